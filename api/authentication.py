"""API tokens: DRF's ``authtoken``, with an age limit and a way to rotate them.

The contract fixes the header (``Authorization: Token <key>``) and how keys are made
(``manage.py drf_create_token <username>``), so this extends DRF's token rather than
replacing it (django-rest-knox would change both). A token is valid for
``API_TOKEN_TTL_DAYS`` (default 30) after it was made; ``manage.py rotate_tokens``
replaces keys before that, or at once after a leak.
"""

from __future__ import annotations

import copy
import datetime
import threading
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


def token_ttl() -> datetime.timedelta:
    return datetime.timedelta(days=settings.API_TOKEN_TTL_DAYS)


def token_expired(token: Token, now: datetime.datetime | None = None) -> bool:
    return (now or timezone.now()) >= token.created + token_ttl()


class _RecentTokens:
    """Tokens this process checked in the last ``API_TOKEN_CACHE_SECONDS``.

    A token client's every request would otherwise run the token query (compiling
    it costs more than the round trip). Bounded; a rotated or deleted key keeps
    working on a process that just checked it for at most those seconds.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._found: dict[str, tuple[float, Any, Token]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Any, Token] | None:
        found = self._found.get(key)
        if found is None or time.monotonic() > found[0]:
            return None
        return copy.copy(found[1]), found[2]  # each request its own User object

    def put(self, key: str, user: Any, token: Token) -> None:
        seconds = settings.API_TOKEN_CACHE_SECONDS
        if seconds <= 0:
            return
        with self._lock:
            if len(self._found) >= self.LIMIT:
                self._found.clear()
            self._found[key] = (time.monotonic() + seconds, user, token)

    def forget(self, key: str) -> None:
        with self._lock:
            self._found.pop(key, None)


recent_tokens = _RecentTokens()


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused with a 401 once the key is too old.

    The same single query as DRF's (the token joined to its user), skipped when this
    process checked the key within ``API_TOKEN_CACHE_SECONDS``; the age check is
    arithmetic on the row, every time.
    """

    def authenticate_credentials(self, key: str):
        found = recent_tokens.get(key)
        if found is None:
            user, token = super().authenticate_credentials(key)
            recent_tokens.put(key, user, token)
        else:
            user, token = found
        if token_expired(token):
            raise AuthenticationFailed(
                f"Token expired: tokens are valid for {settings.API_TOKEN_TTL_DAYS} "
                "days. Ask for a new one.",
                code="token_expired",
            )
        return user, token


@transaction.atomic
def rotate_token(*, token: Token) -> Token:
    """Replace ``token`` with a fresh key for the same user; the old key stops
    working when this commits."""
    user = token.user
    for old in Token.objects.filter(user=user):
        recent_tokens.forget(old.key)
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
