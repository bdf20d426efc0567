"""manage.py rotate_tokens [--older-than DAYS] [--user NAME] [--dry-run]."""

import datetime
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


@pytest.fixture
def tokens() -> dict[str, Token]:
    """Three users' tokens, made 1, 20 and 40 days ago."""
    made = {}
    for name, days in [("fresh", 1), ("middle", 20), ("stale", 40)]:
        token = Token.objects.create(user=get_user_model().objects.create_user(name))
        created = timezone.now() - datetime.timedelta(days=days)
        Token.objects.filter(pk=token.pk).update(created=created)
        made[name] = token
    return made


def rotate(*args: str) -> tuple[dict[str, str], str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_tokens", *args, stdout=out, stderr=err)
    keys = dict(line.split() for line in out.getvalue().splitlines())
    return keys, err.getvalue()


def current_keys() -> dict[str, str]:
    return dict(Token.objects.values_list("user__username", "key"))


def test_without_options_every_token_is_rotated_and_printed(tokens):
    keys, summary = rotate()
    assert set(keys) == {"fresh", "middle", "stale"}
    assert keys == current_keys()
    assert not set(keys.values()) & {t.key for t in tokens.values()}
    assert "Rotated 3 tokens." in summary


def test_older_than_rotates_only_old_tokens(tokens):
    keys, _ = rotate("--older-than", "15")
    assert set(keys) == {"middle", "stale"}
    assert current_keys()["fresh"] == tokens["fresh"].key
    # Fresh tokens are fresh again, so a second run in the same window is a no-op.
    assert rotate("--older-than", "15")[0] == {}


def test_user_rotates_one_users_token(tokens, api_client):
    keys, _ = rotate("--user", "stale")
    assert list(keys) == ["stale"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {keys['stale']}")
    assert api_client.get("/api/genres/").status_code == 200  # expired, now working
    assert current_keys()["middle"] == tokens["middle"].key


def test_dry_run_changes_nothing(tokens):
    out = StringIO()
    call_command("rotate_tokens", "--older-than", "15", "--dry-run", stdout=out)
    assert [line.split()[0] for line in out.getvalue().splitlines()] == [
        "stale",
        "middle",
    ]
    assert current_keys() == {name: t.key for name, t in tokens.items()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "No user named 'nobody'."),
        (["--older-than", "-1"], "--older-than takes a number of days"),
        (["--user", "tokenless"], "'tokenless' has no token; make one with"),
    ],
)
def test_bad_options_are_command_errors(tokens, args, message):
    get_user_model().objects.create_user("tokenless")
    with pytest.raises(CommandError, match=message):
        call_command("rotate_tokens", *args)
    assert current_keys() == {name: t.key for name, t in tokens.items()}
