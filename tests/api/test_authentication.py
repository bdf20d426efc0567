"""Token authentication: DRF's header and keys, refused once API_TOKEN_TTL_DAYS old."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from api.authentication import rotate_token, token_expired

pytestmark = pytest.mark.django_db


def age(token: Token, days: float) -> None:
    created = timezone.now() - datetime.timedelta(days=days)
    Token.objects.filter(pk=token.pk).update(created=created)


def test_the_default_lifetime_is_thirty_days(settings):
    assert settings.API_TOKEN_TTL_DAYS == 30


def test_a_token_within_its_lifetime_works(api_client, user):
    token = Token.objects.create(user=user)
    age(token, 29.9)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api_client.post("/api/books/", {})
    assert response.status_code == 403  # authenticated: a reader, not an editor


@pytest.mark.parametrize("path", ["/api/books/", "/api/genres/"])
def test_an_expired_token_is_a_401_naming_expiry(api_client, user, path):
    token = Token.objects.create(user=user)
    age(token, 30)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api_client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "detail": "Token expired: tokens are valid for 30 days. Ask for a new one."
    }


def test_the_lifetime_comes_from_settings(api_client, user, settings):
    settings.API_TOKEN_TTL_DAYS = 2
    token = Token.objects.create(user=user)
    age(token, 1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get("/api/genres/").status_code == 200
    age(token, 2.01)
    assert api_client.get("/api/genres/").status_code == 401


def test_an_unknown_token_is_still_a_plain_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api_client.get("/api/genres/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_token_expired_is_inclusive_at_the_limit(user):
    token = Token.objects.create(user=user)
    limit = token.created + datetime.timedelta(days=30)
    assert not token_expired(token, now=limit - datetime.timedelta(seconds=1))
    assert token_expired(token, now=limit)


def test_rotate_token_gives_a_fresh_key_and_kills_the_old(api_client, user):
    old = Token.objects.create(user=user)
    age(old, 40)
    new = rotate_token(token=old)
    assert new.key != old.key and new.user == user
    assert list(Token.objects.all()) == [new]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    assert api_client.get("/api/genres/").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert api_client.get("/api/genres/").status_code == 200


def test_the_schema_documents_token_auth(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }


def test_a_checked_token_is_not_queried_again_for_a_few_seconds(
    settings, token_client, django_assert_num_queries
):
    from api.authentication import recent_tokens

    settings.API_TOKEN_CACHE_SECONDS = 5
    recent_tokens._found.clear()
    token_client.get("/api/genres/")
    with django_assert_num_queries(1):  # the genres; the token is remembered
        assert token_client.get("/api/genres/").status_code == 200
    recent_tokens._found.clear()


def test_a_rotated_token_stops_working_at_once_in_the_rotating_process(
    settings, token_client, user
):
    from rest_framework.authtoken.models import Token

    from api.authentication import recent_tokens, rotate_token

    settings.API_TOKEN_CACHE_SECONDS = 5
    recent_tokens._found.clear()
    assert token_client.get("/api/genres/").status_code == 200
    rotate_token(token=Token.objects.get(user=user))
    assert token_client.post("/api/authors/", {"name": "x"}).status_code == 401
    recent_tokens._found.clear()
