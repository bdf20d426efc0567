"""The editors group: made by migration 0004, and again after a flush empties it."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management.sql import emit_post_migrate_signal

from books.roles import EDITOR_PERMISSIONS, EDITORS

pytestmark = pytest.mark.django_db


def editor_codenames() -> set[str]:
    group = Group.objects.get(name=EDITORS)
    return set(group.permissions.values_list("codename", flat=True))


def test_the_migrated_group_has_the_listed_permissions():
    assert editor_codenames() == set(EDITOR_PERMISSIONS)


def test_post_migrate_makes_the_group_again_after_a_flush():
    """``flush`` (and the one after each transactional test) empties the table, then
    sends post_migrate, as this does."""
    Group.objects.all().delete()
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert editor_codenames() == set(EDITOR_PERMISSIONS)


def test_post_migrate_leaves_an_edited_group_alone():
    group = Group.objects.get(name=EDITORS)
    group.permissions.remove(Permission.objects.get(codename="delete_author"))
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert editor_codenames() == set(EDITOR_PERMISSIONS) - {"delete_author"}
