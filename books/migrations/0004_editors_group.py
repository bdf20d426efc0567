"""The ``editors`` group: who may write the catalogue (API and admin) besides staff.

Its permissions are created here first: on a fresh database Django creates model
permissions only in ``post_migrate``, after every migration has run, so a data
migration that looks them up would find none. ``create_permissions`` is idempotent,
and ``post_migrate`` later finds them already there. (``books.roles.ensure_groups``
makes the group again where a ``flush`` emptied it; this list is the one of 0004.)
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "editors"
PERMISSIONS = [
    *(
        f"{action}_{model}"
        for model in ("book", "author", "genre", "publisher")
        for action in ("add", "change", "delete")
    ),
    "change_review",
    "delete_review",
]


def create_editors(apps, schema_editor):
    using = schema_editor.connection.alias
    books = apps.get_app_config("books")
    books.models_module = True  # create_permissions skips apps without models
    create_permissions(books, apps=apps, verbosity=0, using=using)
    books.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.using(using).filter(
            content_type__app_label="books", codename__in=PERMISSIONS
        )
    )


def remove_editors(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("books", "0003_catalogue_version"),
    ]

    operations = [migrations.RunPython(create_editors, remove_editors)]
