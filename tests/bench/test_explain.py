"""bench.explain: plans, the flags for full scans of large tables, row counts."""

import json

import pytest
from django.db import connection

from bench.explain import (
    LARGE_TABLE_ROWS,
    RowCounts,
    explain,
    flag_postgres_plan,
    flag_sqlite_plan,
)
from books import seeding
from books.models import Book

pytestmark = pytest.mark.django_db


def test_postgres_plan_flags_a_seq_scan_under_a_filter_or_a_sort():
    sizes = {"books_book": 100_000, "books_genre": 24}
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {
                "Node Type": "Sort",
                "Plans": [{"Node Type": "Seq Scan", "Relation Name": "books_book"}],
            },
            {
                "Node Type": "Seq Scan",
                "Relation Name": "books_genre",
                "Filter": "(slug = 'x')",
            },
        ],
    }

    flags = flag_postgres_plan(plan, sizes.get, LARGE_TABLE_ROWS)

    assert flags == ["Seq Scan on books_book (~100,000 rows): feeds a sort"]


def test_sqlite_plan_flags_a_full_scan_of_a_large_table():
    sizes = {"books_book": 50_000, "books_review": 50}
    sql = 'SELECT * FROM "books_book" WHERE "books_book"."pages" = %s'
    details = ["SCAN books_book", "SEARCH books_review USING INDEX x (book_id=?)"]

    assert flag_sqlite_plan(details, sql, sizes.get, LARGE_TABLE_ROWS) == [
        "SCAN books_book (~50,000 rows) without an index"
    ]
    indexed = ["SCAN books_book USING INDEX book_published_id_idx"]
    assert flag_sqlite_plan(indexed, sql, sizes.get, LARGE_TABLE_ROWS) == []


@pytest.mark.postgres
def test_explain_flags_an_unindexed_filter_but_not_the_tuned_list(postgres):
    seeding.seed(books=12_000, authors=1_500, seed=7)
    rows = RowCounts()
    unindexed = Book.objects.filter(pages=321).order_by("price")[:20]
    tuned = Book.objects.for_list()[:21]

    _, flags, _ = explain(*unindexed.query.sql_with_params(), rows, LARGE_TABLE_ROWS)
    _, tuned_flags, tuned_notes = explain(
        *tuned.query.sql_with_params(), rows, LARGE_TABLE_ROWS
    )

    assert len(flags) == 1 and flags[0].startswith("Seq Scan on books_book (~12,")
    assert tuned_flags == [] and tuned_notes == []


def test_row_counts_ignore_subquery_aliases(book_factory):
    book_factory(2)
    rows = RowCounts()

    # PostgreSQL answers from planner statistics, SQLite counts.
    if connection.vendor == "sqlite":
        assert rows("books_book") == 2
    assert rows("qualify") == 0  # the window-function prefetch's alias


def test_explain_runs_on_every_tuned_query_of_the_real_api(
    book_factory, tmp_path, run_bench
):
    book_factory(3)
    path = tmp_path / "bench.json"

    run_bench("--no-timing", "--explain", "--json", str(path))

    findings = json.loads(path.read_text())["explain"]
    assert findings
    assert all(f["error"] is None and f["flags"] == [] for f in findings), findings
