"""Rotate API tokens: give each matching token's user a fresh key.

Tokens expire ``API_TOKEN_TTL_DAYS`` (default 30) after they were made
(``api.authentication``). Rotate them before that from a scheduler, or all at once
after a leak; the old keys stop working immediately, and the new ones are printed
(``<username> <key>`` per line) for handing over to their users::

    python manage.py rotate_tokens                    # every token
    python manage.py rotate_tokens --older-than 25    # tokens made 25 or more days ago
    python manage.py rotate_tokens --user alice       # alice's token
    python manage.py rotate_tokens --older-than 25 --dry-run

A user without a token gets one with ``python manage.py drf_create_token <username>``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from api.authentication import rotate_token


class Command(BaseCommand):
    help = (
        "Replace API tokens with fresh keys (all, those older than --older-than "
        "DAYS, or --user NAME's) and print the new keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            help="Only tokens made at least DAYS days ago.",
        )
        parser.add_argument("--user", metavar="NAME", help="Only this user's token.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the tokens that would be rotated; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tokens = self.matching(options["older_than"], options["user"])
        username = get_user_model().USERNAME_FIELD
        rotated = 0
        for token in tokens:
            name = getattr(token.user, username)
            if options["dry_run"]:
                self.stdout.write(f"{name} (made {token.created:%Y-%m-%d})")
            else:
                self.stdout.write(f"{name} {rotate_token(token=token).key}")
            rotated += 1
        if options["verbosity"] >= 1:
            verb = "Would rotate" if options["dry_run"] else "Rotated"
            self.stderr.write(
                self.style.SUCCESS(f"{verb} {rotated} token{'s' * (rotated != 1)}.")
            )

    def matching(self, older_than: int | None, user: str | None) -> list[Token]:
        tokens: QuerySet[Token] = Token.objects.select_related("user").order_by(
            "created"
        )
        if older_than is not None:
            if older_than < 0:
                raise CommandError("--older-than takes a number of days, 0 or more.")
            cutoff = timezone.now() - datetime.timedelta(days=older_than)
            tokens = tokens.filter(created__lte=cutoff)
        if user is not None:
            field = get_user_model().USERNAME_FIELD
            if not get_user_model().objects.filter(**{field: user}).exists():
                raise CommandError(f"No user named {user!r}.")
            tokens = tokens.filter(**{f"user__{field}": user})
            if older_than is None and not tokens.exists():
                raise CommandError(
                    f"{user!r} has no token; make one with "
                    f"`python manage.py drf_create_token {user}`."
                )
        return list(tokens)
