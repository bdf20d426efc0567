"""manage.py bench: discovery, the audit (N+1 sites and frames), budgets, JSON."""

import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from bench import budgets
from bench.client import make_client
from bench.explain import (
    LARGE_TABLE_ROWS,
    RowCounts,
    explain,
    flag_postgres_plan,
    flag_sqlite_plan,
)
from bench.registry import declarations
from bench.runner import percentiles
from bench.scenarios import Dataset, discover
from bench.sql import fingerprint, fix_hint
from books import seeding
from books.models import Author, Book

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"
CONTRACT_KEYS = {
    "name": str,
    "variant": str,
    "cache": str,
    "status": int,
    "queries": int,
    "duplicate_queries": int,
    "db_ms": (int, float),
    "p50_ms": (int, float),
    "p95_ms": (int, float),
    "bytes": int,
    "gzip_bytes": int,
}


def bench(*args: str) -> str:
    out = StringIO()
    call_command("bench", "--repeat", "2", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def assert_contract_shape(doc: dict) -> None:
    """The --json document as CONTRACT.md fixes it (extra keys are allowed)."""
    assert set(doc["dataset"]) >= {"books", "authors", "reviews", "database"}
    for key in ("books", "authors", "reviews"):
        assert isinstance(doc["dataset"][key], int)
    assert doc["dataset"]["database"] in ("postgresql", "sqlite")
    assert doc["scenarios"]
    for row in doc["scenarios"]:
        for key, kind in CONTRACT_KEYS.items():
            assert isinstance(row[key], kind), (key, row[key])
            assert not isinstance(row[key], bool), key
        assert row["variant"] in ("tuned", "naive")
        assert row["cache"] in ("cold", "warm")
        assert row["duplicate_queries"] <= max(row["queries"] - 1, 0)


@pytest.mark.urls(TEST_URLS)
def test_json_output_has_the_contract_shape(book_factory, tmp_path):
    book_factory(6)
    path = tmp_path / "bench.json"

    bench("--json", str(path))

    doc = json.loads(path.read_text())
    assert_contract_shape(doc)
    assert doc["dataset"]["books"] == 6
    keys = {(r["name"], r["variant"], r["cache"]) for r in doc["scenarios"]}
    assert ("api.books.list", "tuned", "cold") in keys
    assert ("api.books.list", "naive", "warm") in keys
    assert ("api.books.list.page100", "naive", "cold") in keys
    assert ("page.book", "tuned", "warm") in keys


@pytest.mark.urls(TEST_URLS)
def test_naive_list_n_plus_one_is_found_with_its_frame_and_hint(book_factory, tmp_path):
    book_factory(6)
    path = tmp_path / "bench.json"

    out = bench("--scenario", "api.books.list", "--json", str(path))

    rows = {
        (r["variant"], r["cache"]): r for r in json.loads(path.read_text())["scenarios"]
    }
    naive, tuned = rows[("naive", "cold")], rows[("tuned", "cold")]
    assert tuned["duplicate_queries"] == 0 and tuned["n_plus_one"] == []
    assert naive["queries"] == 7  # the page, then one author per book
    assert naive["duplicate_queries"] == 5
    [site] = naive["n_plus_one"]
    assert site["count"] == 6
    assert site["table"] == "books_author"
    assert site["fingerprint"].endswith('WHERE "books_author"."id" = ? LIMIT ?')
    # The frame is the project line that touched book.author, not Django's ORM.
    assert site["site"].startswith("tests/bench/urls.py:")
    assert site["site"].endswith("in _row")
    assert site["hint"] == "select_related('author')"
    assert "select_related('author')" in out


@pytest.mark.urls(TEST_URLS)
def test_tight_budget_exits_1_and_lists_the_breach(book_factory, tmp_path):
    book_factory(3)
    budget = tmp_path / "budget.toml"
    budget.write_text(
        '[[budget]]\nscenario = "api.books.list"\nmax_queries = 0\n'
        '[[budget]]\nscenario = "api.books.list"\nvariant = "naive"\n'
        "max_duplicates = 1\n"
    )
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("bench", "--repeat", "1", "--budget", str(budget), stdout=out)

    assert raised.value.returncode == 1
    message = str(raised.value)
    assert "api.books.list [tuned, cold]: queries 1 > 0" in message
    assert "api.books.list [naive, warm]: duplicate_queries 2 > 1" in message
    assert "api.books.list.page100" not in message  # the glob has no wildcard
    assert "BREACH api.books.list [tuned, cold]" in out.getvalue()


@pytest.mark.urls(TEST_URLS)
def test_met_budget_passes_and_timing_budgets_can_be_skipped(book_factory, tmp_path):
    book_factory(2)
    budget = tmp_path / "budget.toml"
    budget.write_text(
        '[[budget]]\nscenario = "api.*"\nmax_queries = 1\nmax_p95_ms = 0.001\n'
    )

    out = bench("--budget", str(budget), "--no-timing-budgets", "--scenario", "api.*")

    assert "All budgets met." in out


def test_repo_budget_file_parses():
    loaded = budgets.load()

    assert loaded
    assert (
        budgets.limit_for(loaded, "api.books.list", "tuned", "cold", "max_duplicates")
        == 0
    )


def test_budget_file_rejects_unknown_keys(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[[budget]]\nscenario = "*"\nmax_querys = 3\n')

    with pytest.raises(ValueError, match="max_querys"):
        budgets.load(path)


@pytest.mark.urls(TEST_URLS)
def test_scenario_globs_narrow_the_run(book_factory, tmp_path):
    book_factory(2)
    path = tmp_path / "bench.json"

    bench("--scenario", "api.books.list.p*", "page.*", "--json", str(path))

    names = {r["name"] for r in json.loads(path.read_text())["scenarios"]}
    assert names == {"api.books.list.page100", "page.book"}


@pytest.mark.urls(TEST_URLS)
def test_discovery_gives_detail_routes_the_most_reviewed_book(book_factory):
    books = book_factory(3, reviews_per_book=1)
    from tests.factories import ReviewFactory

    ReviewFactory.create_batch(4, book=books[1])

    declared = declarations()
    scenarios, _ = discover(
        make_client(), declared, Dataset(declared.picks), urlconf=TEST_URLS
    )

    by_key = {(s.name, s.variant): s for s in scenarios}
    assert by_key[("api.books.detail", "tuned")].path == f"/api/books/{books[1].pk}/"
    assert by_key[("page.book", "tuned")].path == f"/books/{books[1].pk}/"
    # naive-book-list is the naive twin of book-list, with the same variants.
    assert by_key[("api.books.list", "naive")].route == "api:naive-book-list"
    assert by_key[("api.books.list.page100", "naive")].path.endswith("page_size=100")


@pytest.mark.urls(TEST_URLS)
def test_bench_never_writes_and_opens_no_savepoint(book_factory):
    book_factory(3)
    before = list(Book.objects.order_by("pk").values_list("pk", "updated"))
    statements: list[str] = []

    def spy(execute, sql, params, many, context):
        statements.append(sql.lstrip().upper())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        bench("--verbosity", "0")

    assert len(statements) > 50  # the spy saw the whole run
    forbidden = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE")
    assert [s for s in statements if s.startswith(forbidden)] == []
    assert list(Book.objects.order_by("pk").values_list("pk", "updated")) == before


def test_no_data_is_a_clear_error():
    with pytest.raises(CommandError, match="seed"):
        bench()


@pytest.mark.urls(TEST_URLS)
def test_sizes_reseed_and_report_growth(tmp_path):
    path = tmp_path / "bench.json"

    html = tmp_path / "bench.html"

    out = bench(
        "--sizes",
        "8,16",
        "--scenario",
        "api.books.list",
        "--json",
        str(path),
        "--html",
        str(html),
    )

    assert "DELETES every book" in out
    doc = json.loads(path.read_text())
    assert [s["dataset"]["books"] for s in doc["sizes"]] == [8, 16]
    naive = [
        next(
            r for r in s["scenarios"] if (r["variant"], r["cache"]) == ("naive", "cold")
        )
        for s in doc["sizes"]
    ]
    tuned = [
        next(
            r for r in s["scenarios"] if (r["variant"], r["cache"]) == ("tuned", "cold")
        )
        for s in doc["sizes"]
    ]
    assert [r["queries"] for r in tuned] == [1, 1]  # flat
    assert "<polyline" in html.read_text()  # the growth chart
    assert naive[1]["queries"] > naive[0]["queries"]  # grows with the page


@pytest.mark.urls(TEST_URLS)
def test_html_report_is_self_contained(book_factory, tmp_path):
    book_factory(3)
    path = tmp_path / "bench.html"

    bench("--html", str(path), "--verbosity", "0")

    page = path.read_text()
    assert "<svg" in page and "api.books.list" in page
    assert "<script src" not in page and "<link" not in page
    assert "https://" not in page


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            'SELECT "a"."id" FROM "a" WHERE "a"."id" IN (%s, %s, %s) LIMIT 21',
            'SELECT "a"."id" FROM "a" WHERE "a"."id" IN (...) LIMIT ?',
        ),
        (
            "SELECT x FROM t WHERE name = 'O''Brien' AND n > 3.5 AND t2.c = 7",
            "SELECT x FROM t WHERE name = ? AND n > ? AND t2.c = ?",
        ),
        ('SELECT "t1"."x" FROM "books_book_genres" T1', None),
    ],
)
def test_fingerprint_strips_literals_and_collapses_in_lists(sql, expected):
    assert fingerprint(sql) == (expected or sql)


@pytest.mark.parametrize(
    ("sql", "parent", "hint"),
    [
        (
            'SELECT ... FROM "books_author" WHERE "books_author"."id" = ? LIMIT ?',
            Book,
            "select_related('author')",
        ),
        (
            'SELECT "books_genre"."id" FROM "books_genre" INNER JOIN '
            '"books_book_genres" ON ("books_genre"."id" = '
            '"books_book_genres"."genre_id") WHERE "books_book_genres"."book_id" = ?',
            Book,
            "prefetch_related('genres')",
        ),
        (
            'SELECT AVG("books_review"."rating") AS "a" FROM "books_review" '
            'WHERE "books_review"."book_id" = ?',
            Book,
            "annotate(Avg('reviews__rating')) or a Subquery annotation",
        ),
        (
            'SELECT COUNT(*) AS "__count" FROM "books_book" '
            'WHERE "books_book"."author_id" = ?',
            Author,
            "annotate(Count('books')) or a Subquery annotation",
        ),
        (
            'SELECT "books_genre"."id" FROM "books_genre" INNER JOIN '
            '"books_book_genres" ON ("books_genre"."id" = '
            '"books_book_genres"."genre_id") WHERE "books_book_genres"."book_id" = ?',
            Author,
            "prefetch_related('books__genres')",
        ),
    ],
)
def test_fix_hint_names_the_relation(sql, parent, hint):
    assert fix_hint(sql, parent) == hint


def test_dataset_picks_the_author_with_most_books(book_factory):
    from tests.factories import AuthorFactory, BookFactory

    book_factory(2)
    prolific = AuthorFactory()
    BookFactory.create_batch(5, author=prolific, published=date(2001, 1, 1))

    assert Dataset(declarations().picks).value("author") == prolific.pk


def test_repo_query_budgets_hold_on_the_real_api_and_pages(book_factory, tmp_path):
    book_factory(5)
    path = tmp_path / "bench.json"

    out = bench(
        "--budget",
        str(budgets.default_path()),
        "--no-timing-budgets",
        "--no-timing",
        "--json",
        str(path),
    )

    assert "All budgets met." in out
    rows = json.loads(path.read_text())["scenarios"]
    names = {r["name"] for r in rows}
    assert {"api.books.list", "api.books.detail", "page.home", "page.book"} <= names
    assert all(r["status"] == 200 for r in rows), [
        (r["name"], r["status"], r["error"]) for r in rows if r["status"] != 200
    ]
    naive = {
        r["name"]: r for r in rows if r["variant"] == "naive" and r["cache"] == "cold"
    }
    # Five books by two authors: the naive list repeats per row, the tuned never does.
    sites = {s["table"]: s for s in naive["api.books.list"]["n_plus_one"]}
    assert naive["api.books.list"]["duplicate_queries"] >= 4 * 4
    author = sites["books_author"]
    assert author["count"] == 5
    assert author["fingerprint"].endswith('WHERE "books_author"."id" = ? LIMIT ?')
    assert author["site"].startswith("NaiveBookSerializer.author (api/")
    assert author["hint"].startswith("select_related('author') in NaiveBookViewSet")


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


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(TEST_URLS)
def test_url_mode_measures_a_live_server(book_factory, live_server, tmp_path):
    book_factory(3)
    path = tmp_path / "bench.json"

    out = bench(
        "--url",
        live_server.url,
        "--duration",
        "0.3",
        "--concurrency",
        "1",
        "--scenario",
        "api.books.list",
        "--no-timing",
        "--json",
        str(path),
    )

    http = json.loads(path.read_text())["http"]
    assert {(r["name"], r["variant"]) for r in http["scenarios"]} == {
        ("api.books.list", "tuned"),
        ("api.books.list", "naive"),
    }
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in http["scenarios"])
    assert "over HTTP" in out


def test_url_mode_refuses_a_non_loopback_host():
    with pytest.raises(CommandError, match="loopback"):
        call_command("bench", "--url", "http://192.0.2.1:8000", stdout=StringIO())


@pytest.mark.django_db(databases=[])
def test_manage_py_bench_exits_1_on_a_breach(tmp_path):
    """The real process, on a throwaway SQLite file: CI gates on this exit status."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "SECRET_KEY": "test-only",
        "DEBUG": "false",
    }
    budget = tmp_path / "budget.toml"
    budget.write_text('[[budget]]\nscenario = "api.books.list"\nmax_queries = 1\n')

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for setup in (("migrate", "-v0"), ("seed", "--books", "30", "-v0")):
        done = manage(*setup)
        assert done.returncode == 0, done.stderr
    run = manage(
        "bench", "--scenario", "api.books.list", "--no-timing", "--budget", str(budget)
    )

    assert run.returncode == 1, run.stderr
    assert "api.books.list [tuned, cold]: queries 2 > 1" in run.stderr


@pytest.mark.urls(TEST_URLS)
def test_compare_reports_a_query_regression_against_a_baseline(book_factory, tmp_path):
    book_factory(3)
    baseline, current = tmp_path / "before.json", tmp_path / "after.json"
    bench("--scenario", "api.books.list", "--json", str(baseline))
    doc = json.loads(baseline.read_text())
    for row in doc["scenarios"]:
        row["queries"] -= 1 if row["variant"] == "tuned" else 0
    baseline.write_text(json.dumps(doc))

    out = bench(
        "--scenario",
        "api.books.list",
        "--compare",
        str(baseline),
        "--json",
        str(current),
    )

    changes = json.loads(current.read_text())["compare"]["changes"]
    more = [c for c in changes if c["change"] == "more"]
    assert {(c["variant"], c["cache"], c["before"], c["after"]) for c in more} == {
        ("tuned", "cold", 0, 1),
        ("tuned", "warm", 0, 1),
    }
    assert "more: api.books.list [tuned, cold] queries 0 -> 1" in out


def test_an_error_status_breaches_any_budget():
    row = {
        "name": "api.books.list",
        "variant": "tuned",
        "cache": "cold",
        "status": 500,
        "queries": 0,
        "duplicate_queries": 0,
    }
    rules = [budgets.Budget(scenario="api.books.list", max_queries=5)]

    [breach] = budgets.check([row], rules)

    assert (breach.metric, breach.actual) == ("status", 500)
    assert budgets.check([row], []) == []  # no budget file, no gate


def test_row_counts_ignore_subquery_aliases(book_factory):
    book_factory(2)
    rows = RowCounts()

    # PostgreSQL answers from planner statistics, SQLite counts.
    if connection.vendor == "sqlite":
        assert rows("books_book") == 2
    assert rows("qualify") == 0  # the window-function prefetch's alias


def test_explain_runs_on_every_tuned_query_of_the_real_api(book_factory, tmp_path):
    book_factory(3)
    path = tmp_path / "bench.json"

    bench("--no-timing", "--explain", "--json", str(path))

    findings = json.loads(path.read_text())["explain"]
    assert findings
    assert all(f["error"] is None and f["flags"] == [] for f in findings), findings


def _tuned_counts(path) -> dict[tuple[str, str], int]:
    rows = json.loads(path.read_text())["scenarios"]
    return {
        (r["name"], r["cache"]): r["queries"] for r in rows if r["variant"] == "tuned"
    }


def test_every_tuned_scenario_runs_the_same_queries_at_any_data_size(
    book_factory, tmp_path
):
    """Discovered from the real URLconf, so a new endpoint is covered unasked."""
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    book_factory(1)
    bench("--no-timing", "--json", str(small))
    book_factory(12, reviews_per_book=6)

    bench("--no-timing", "--json", str(large))

    before, after = _tuned_counts(small), _tuned_counts(large)
    assert before.keys() == after.keys()
    grew = {
        key: (before[key], after[key]) for key in before if after[key] != before[key]
    }
    assert grew == {}


def _linear(samples: list[float], pct: float) -> float:
    """numpy's default percentile, written out: the reference for bench's."""
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@pytest.mark.parametrize(
    "samples",
    [[4.0, 1.0], [3.0, 1.0, 2.0], [float(n * n % 17) for n in range(1, 41)]],
)
def test_percentiles_interpolate_linearly_between_ranks(samples):
    cuts = percentiles(samples)

    for pct in (50, 95, 99):
        assert cuts[pct] == pytest.approx(_linear(samples, pct), abs=1e-9)


def test_percentiles_of_one_sample_are_that_sample():
    assert percentiles([7.5]) == {50: 7.5, 95: 7.5, 99: 7.5}
