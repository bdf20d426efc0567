"""API test clients: anonymous, token-authenticated, session-authenticated.

``user`` is a plain signed-in reader (may post reviews, may not write the catalogue);
``editor`` is a member of the ``editors`` group that books migration 0004 creates.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_with_token(user) -> APIClient:
    client = APIClient()
    token = Token.objects.create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(
        "reader"
    )  # no password: no slow hashing


@pytest.fixture
def editor(db):
    editor = get_user_model().objects.create_user("editor")
    editor.groups.add(Group.objects.get(name="editors"))
    return editor


@pytest.fixture
def token_client(user) -> APIClient:
    return client_with_token(user)


@pytest.fixture
def editor_client(editor) -> APIClient:
    return client_with_token(editor)


@pytest.fixture
def session_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client
