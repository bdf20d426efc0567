"""The user groups the project relies on, and the model permissions they carry.

``editors`` may write the catalogue: the API's ``CatalogueWritePermission`` checks
these permissions, and the admin does too for members who are staff. Migration 0004
creates the group; ``ensure_groups`` (run on ``post_migrate``) creates it again
wherever it is missing, e.g. after ``flush``, which empties every table but re-runs
``post_migrate``. A group that exists is left as its administrators edited it.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS

EDITORS = "editors"
EDITOR_PERMISSIONS = (
    *(
        f"{action}_{model}"
        for model in ("book", "author", "genre", "publisher")
        for action in ("add", "change", "delete")
    ),
    # Moderating reviews (in the admin; the API lets only writers and staff).
    "change_review",
    "delete_review",
)


def ensure_groups(
    *, using: str = DEFAULT_DB_ALIAS, apps: Any = global_apps, **kwargs: Any
) -> None:
    """Create ``editors`` with its permissions if it does not exist (a
    ``post_migrate`` receiver: it runs after the permissions are created)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    if Group.objects.using(using).filter(name=EDITORS).exists():
        return
    group = Group.objects.using(using).create(name=EDITORS)
    group.permissions.set(
        Permission.objects.using(using).filter(
            content_type__app_label="books", codename__in=EDITOR_PERMISSIONS
        )
    )
