"""The catalogue version: one row, bumped by triggers on every catalogue table.

PostgreSQL: one statement-level trigger per table and event (INSERT, UPDATE, DELETE,
TRUNCATE), so an UPDATE of 10,000 rows bumps it once. SQLite has only row-level
triggers; a bump is an in-process write there, and cheap. The version starts at the
clock in microseconds, so a database created later never reuses an older one's
numbers in a cache that outlived it.
"""

import time

from django.db import migrations, models

TABLES = [
    "books_author",
    "books_book",
    "books_book_genres",
    "books_genre",
    "books_publisher",
    "books_review",
]
BUMP = "UPDATE books_catalogueversion SET version = version + 1 WHERE id = 1"


def forwards(apps, schema_editor):
    execute = schema_editor.execute
    execute(
        "INSERT INTO books_catalogueversion (id, version) VALUES (1, %s)",
        [time.time_ns() // 1000],
    )
    if schema_editor.connection.vendor == "postgresql":
        execute(
            "CREATE FUNCTION books_bump_catalogue_version() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            execute(
                f"CREATE TRIGGER {table}_catalogue_version "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION books_bump_catalogue_version()"
            )
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                execute(
                    f"CREATE TRIGGER {table}_catalogue_version_{event.lower()} "
                    f"AFTER {event} ON {table} BEGIN {BUMP}; END"
                )


def backwards(apps, schema_editor):
    execute = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_version ON {table}")
        execute("DROP FUNCTION IF EXISTS books_bump_catalogue_version()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                execute(f"DROP TRIGGER IF EXISTS {table}_catalogue_version_{event}")


class Migration(migrations.Migration):
    dependencies = [("books", "0002_trigram_search_indexes")]

    operations = [
        migrations.CreateModel(
            name="CatalogueVersion",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, primary_key=True, serialize=False
                    ),
                ),
                ("version", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
