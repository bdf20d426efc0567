"""On PostgreSQL the book list's queries use the indexes they were written for.

The tables are tiny here, so sequential scans and sorts are switched off for the
EXPLAIN: the question is whether the planner *can* use the index for the ORM's SQL
(the expression and the sort order must match exactly), not whether it prefers it at
this size. The README records the plans on 100,000 books.
"""

import pytest
from django.db import connection

from books.models import Book
from tests.conftest import make_books

pytestmark = pytest.mark.postgres


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def books(postgres):
    return make_books(10, reviews_per_book=1)


def test_search_uses_both_trigram_indexes(books):
    """Title arm and author arm each use an index, OR-ed as bitmaps.

    (Under ORDER BY ... LIMIT the planner may instead walk book_published_id_idx
    and filter, when it expects many matches; both are index plans.)
    """
    plan = explain(Book.objects.search("tolk").order_by().values("pk"))
    assert "Bitmap Index Scan on book_title_trgm_idx" in plan
    assert "Bitmap Index Scan on author_name_trgm_idx" in plan
    assert "BitmapOr" in plan


def test_default_ordering_walks_the_composite_index(books):
    plan = explain(Book.objects.for_list().order_by("-published", "-id")[:21])
    assert "book_published_id_idx" in plan
    assert "Sort" not in plan.split("Subquery")[0]


def test_author_filter_uses_the_author_index(books):
    author_id = books[0].author_id
    plan = explain(
        Book.objects.for_list()
        .filter(author_id=author_id)
        .order_by("-published", "-id")[:21]
    )
    assert "book_author_pub_idx" in plan


def test_nul_never_reaches_postgresql(api_client, books):
    """psycopg raises ValueError for NUL in text; the API answers 400 first."""
    assert api_client.get("/api/books/", {"search": "a\x00"}).status_code == 400
    assert api_client.get("/api/books/", {"genre": "a\x00"}).status_code == 400
