"""The OpenAPI document tells the truth: schemathesis fuzzes every operation in-process
(the WSGI app, the test database), with every check, anonymous and with a token.

One test per operation and client (so one failure does not hide the rest); examples
are bounded (``MAX_EXAMPLES``) and derandomized so both CI passes stay fast and
repeatable. A failure prints the reproducing request. Settings for the checks are in
``schemathesis.toml``.
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings

from config.wsgi import application
from tests.factories import BookFactory, ReviewFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI app ends each request by closing old connections; inside a test's
    transaction that would drop it. Django's test client disconnects the same."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def catalogue(db):
    book = BookFactory(genres=[])
    ReviewFactory.create_batch(3, book=book)
    return book


@pytest.fixture
def staff_token(db):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("fuzzer", is_staff=True)
    return Token.objects.create(user=user).key


def fuzz(operation, headers: dict[str, str] | None = None) -> None:
    # The in-process WSGI transport does not decode gzip, which the API sends when
    # asked; ask for the identity encoding (HTTP clients decode it themselves).
    sent = {"Accept-Encoding": "identity", **(headers or {})}

    @FUZZ
    @given(case=operation.as_strategy())
    def check(case):
        case.call_and_validate(headers=sent)

    check()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_anonymous_clients_meet_the_schema(operation, catalogue):
    fuzz(operation)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_token_clients_meet_the_schema(operation, catalogue, staff_token):
    fuzz(operation, {"Authorization": f"Token {staff_token}"})
