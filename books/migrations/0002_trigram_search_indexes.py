"""Trigram GIN indexes behind ``BookQuerySet.search()``, on PostgreSQL only.

Django compiles ``icontains`` to ``UPPER(col::text) LIKE UPPER(%s)`` on PostgreSQL, so
the indexes cover exactly ``UPPER(col)``; a plain ``gin_trgm_ops`` index on the column
would never be used by the ORM's query. SQLite has no such index type: there the
operations do nothing and search is a scan, which is fine for an embedded demo.
"""

from django.db import migrations


class RunSQLOnPostgreSQL(migrations.RunSQL):
    """``RunSQL`` that is a no-op on every database except PostgreSQL."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]

    operations = [
        RunSQLOnPostgreSQL(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            # Other objects may depend on the extension: leave it installed.
            reverse_sql=migrations.RunSQL.noop,
        ),
        RunSQLOnPostgreSQL(
            "CREATE INDEX IF NOT EXISTS book_title_trgm_idx "
            "ON books_book USING gin (UPPER(title) gin_trgm_ops)",
            reverse_sql="DROP INDEX IF EXISTS book_title_trgm_idx",
        ),
        RunSQLOnPostgreSQL(
            "CREATE INDEX IF NOT EXISTS author_name_trgm_idx "
            "ON books_author USING gin (UPPER(name) gin_trgm_ops)",
            reverse_sql="DROP INDEX IF EXISTS author_name_trgm_idx",
        ),
    ]
