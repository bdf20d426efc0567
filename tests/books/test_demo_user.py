"""``manage.py demo_user``: a dev-only account, refused without DEBUG."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def demo_user() -> str:
    out = StringIO()
    call_command("demo_user", stdout=out)
    return out.getvalue()


def test_refused_without_debug():
    with pytest.raises(CommandError, match="DEBUG"):
        demo_user()
    assert not get_user_model().objects.filter(username="demo").exists()


def test_creates_demo_demo_with_a_token_printed_once(debug, client):

    first = demo_user()

    user = get_user_model().objects.get(username="demo")
    assert user.check_password("demo") and user.is_staff and user.is_superuser
    token = Token.objects.get(user=user).key
    assert f"Authorization: Token {token}" in first
    again = demo_user()
    assert token not in again and "already exists" in again
    assert Token.objects.get(user=user).key == token


def test_the_token_writes_through_the_api(debug, client):
    demo_user()
    token = Token.objects.get(user__username="demo").key

    response = client.post(
        "/api/authors/",
        {"name": "Demo Author", "bio": "", "country": "Norway"},
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )

    assert response.status_code == 201, response.content
