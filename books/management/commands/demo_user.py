"""A dev-only demo account: ``manage.py demo_user`` (``make run`` calls it).

Creates the superuser ``demo`` with password ``demo`` and an API token, so the
README's write examples and ``/admin/`` work on a fresh clone. A known password is
only acceptable on a developer's machine: the command refuses to run unless DEBUG is
on, so no production settings can ever create it. The token is printed when it is
made; later runs leave the account alone.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

USERNAME = PASSWORD = "demo"


class Command(BaseCommand):
    help = "Create the dev-only superuser demo/demo and its API token (DEBUG only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--username", default=USERNAME, help="default: demo (password: demo)"
        )

    @transaction.atomic
    def handle(self, *args, username: str, verbosity: int, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "demo_user makes an account with a known password: it runs only with "
                "DEBUG=true (make run), never against production settings."
            )
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"is_staff": True, "is_superuser": True, "email": ""},
        )
        if not created:
            if verbosity:
                self.stdout.write(
                    f"Demo user {username!r} already exists (password {PASSWORD!r} "
                    f"unless changed); its token: manage.py drf_create_token "
                    f"{username}"
                )
            return
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        token, _ = Token.objects.get_or_create(user=user)
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created the dev-only superuser {username!r}, password "
                    f"{PASSWORD!r} (/admin/). API token, shown once:\n"
                    f"  Authorization: Token {token.key}"
                )
            )
