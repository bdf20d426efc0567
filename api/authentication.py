"""API tokens: DRF's ``authtoken``, with an age limit and a way to rotate them.

The contract fixes the header (``Authorization: Token <key>``) and how keys are made
(``manage.py drf_create_token <username>``), so this extends DRF's token rather than
replacing it (django-rest-knox would change both). A token is valid for
``API_TOKEN_TTL_DAYS`` (default 30) after it was made; ``manage.py rotate_tokens``
replaces keys before that, or at once after a leak.
"""

from __future__ import annotations

import datetime

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


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused with a 401 once the key is too old.

    The same single query as DRF's (the token joined to its user); the age check is
    arithmetic on the row it already read.
    """

    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
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
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)
