"""manage.py bench end to end: the --json contract, N+1 sites, selection, safety."""

import json

import pytest
from django.core.management import CommandError
from django.db import connection

from books.models import Book

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
def test_json_output_has_the_contract_shape(book_factory, tmp_path, run_bench):
    book_factory(6)
    path = tmp_path / "bench.json"

    run_bench("--json", str(path))

    doc = json.loads(path.read_text())
    assert_contract_shape(doc)
    assert doc["dataset"]["books"] == 6
    keys = {(r["name"], r["variant"], r["cache"]) for r in doc["scenarios"]}
    assert ("api.books.list", "tuned", "cold") in keys
    assert ("api.books.list", "naive", "warm") in keys
    assert ("api.books.list.page100", "naive", "cold") in keys
    assert ("page.book", "tuned", "warm") in keys
    # Which database ran each scenario's queries (only the default here).
    for row in doc["scenarios"]:
        assert sum(row["databases"].values()) == row["queries"]
        assert set(row["databases"]) <= {"default"}


@pytest.mark.urls(TEST_URLS)
def test_naive_list_n_plus_one_is_found_with_its_frame_and_hint(
    book_factory, tmp_path, run_bench
):
    book_factory(6)
    path = tmp_path / "bench.json"

    out = run_bench("--scenario", "api.books.list", "--json", str(path))

    rows = {
        (r["variant"], r["cache"]): r for r in json.loads(path.read_text())["scenarios"]
    }
    naive, tuned = rows[("naive", "cold")], rows[("tuned", "cold")]
    assert tuned["duplicate_queries"] == 0 and tuned["n_plus_one"] == []
    assert naive["queries"] == 7  # the page, then one author per book
    assert naive["duplicate_queries"] == 5
    # The debug toolbar's terms: six author lookups, by two authors, three each.
    assert (naive["similar_queries"], naive["exact_duplicates"]) == (6, 6)
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
def test_scenario_globs_narrow_the_run(book_factory, tmp_path, run_bench):
    book_factory(2)
    path = tmp_path / "bench.json"

    run_bench("--scenario", "api.books.list.p*", "page.*", "--json", str(path))

    names = {r["name"] for r in json.loads(path.read_text())["scenarios"]}
    assert names == {"api.books.list.page100", "page.book"}


@pytest.mark.urls(TEST_URLS)
def test_bench_never_writes_and_opens_no_savepoint(book_factory, run_bench):
    book_factory(3)
    before = list(Book.objects.order_by("pk").values_list("pk", "updated"))
    statements: list[str] = []

    def spy(execute, sql, params, many, context):
        statements.append(sql.lstrip().upper())
        return execute(sql, params, many, context)

    # Every scenario; the declared write operations run in transactions bench rolls
    # back (tests/bench/test_operations.py).
    with connection.execute_wrapper(spy):
        run_bench("--verbosity", "0", "--scenario", "api.*", "page.*")

    assert len(statements) > 50  # the spy saw the whole run
    forbidden = ("INSERT", "UPDATE", "DELETE", "SAVEPOINT", "RELEASE")
    assert [s for s in statements if s.startswith(forbidden)] == []
    assert list(Book.objects.order_by("pk").values_list("pk", "updated")) == before


def test_no_data_is_a_clear_error(run_bench):
    with pytest.raises(CommandError, match="seed"):
        run_bench()


@pytest.mark.urls(TEST_URLS)
def test_sizes_reseed_and_report_growth(tmp_path, run_bench):
    path = tmp_path / "bench.json"

    html = tmp_path / "bench.html"

    out = run_bench(
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
def test_html_report_is_self_contained(book_factory, tmp_path, run_bench):
    book_factory(3)
    path = tmp_path / "bench.html"

    run_bench("--html", str(path), "--verbosity", "0")

    page = path.read_text()
    assert "<svg" in page and "api.books.list" in page
    assert "<script src" not in page and "<link" not in page
    assert "https://" not in page


@pytest.mark.urls(TEST_URLS)
def test_compare_reports_a_query_regression_against_a_baseline(
    book_factory, tmp_path, run_bench
):
    book_factory(3)
    baseline, current = tmp_path / "before.json", tmp_path / "after.json"
    run_bench("--scenario", "api.books.list", "--json", str(baseline))
    doc = json.loads(baseline.read_text())
    for row in doc["scenarios"]:
        row["queries"] -= 1 if row["variant"] == "tuned" else 0
    baseline.write_text(json.dumps(doc))

    out = run_bench(
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
    assert "against " in out and "queries" in out  # the changes, as a table
    assert "2 changes in 4 rows compared: 2 more" in out


def _tuned_counts(path) -> dict[tuple[str, str], int]:
    rows = json.loads(path.read_text())["scenarios"]
    return {
        (r["name"], r["cache"]): r["queries"] for r in rows if r["variant"] == "tuned"
    }


def test_every_tuned_scenario_runs_the_same_queries_at_any_data_size(
    book_factory, tmp_path, run_bench
):
    """Discovered from the real URLconf, so a new endpoint is covered unasked."""
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    book_factory(1)
    run_bench("--no-timing", "--json", str(small))
    book_factory(12, reviews_per_book=6)

    run_bench("--no-timing", "--json", str(large))

    before, after = _tuned_counts(small), _tuned_counts(large)
    assert before.keys() == after.keys()
    grew = {
        key: (before[key], after[key]) for key in before if after[key] != before[key]
    }
    # The ladder's first rung is the tutorial's N+1, there to be measured.
    assert set(grew) == {("ladder.books.naive", "cold"), ("ladder.books.naive", "warm")}


def test_a_cold_row_finds_no_entry_and_a_warm_row_finds_them_all(
    book_factory, tmp_path, run_bench
):
    """The published generation is read (and found) cold too: state, not a hit."""
    book_factory(2)
    path = tmp_path / "bench.json"

    run_bench("--scenario", "api.books.list", "page.home", "--json", str(path))

    rows = json.loads(path.read_text())["scenarios"]
    tuned = {(r["name"], r["cache"]): r for r in rows if r["variant"] == "tuned"}
    for name in ("api.books.list", "page.home"):
        cold, warm = tuned[(name, "cold")], tuned[(name, "warm")]
        assert cold["cache_gets"] >= 1 and cold["cache_hits"] == 0, cold
        assert cold["cache_state_reads"] >= 1 and cold["hit_ratio"] == 0
        assert warm["cache_hits"] == warm["cache_gets"] >= 1, warm


def test_the_streamed_export_reports_its_time_to_first_byte(
    book_factory, tmp_path, run_bench
):
    book_factory(3)
    path = tmp_path / "bench.json"

    out = run_bench(
        "--scenario", "api.books.export", "api.books.list", "--json", str(path)
    )

    rows = {
        (r["name"], r["cache"]): r for r in json.loads(path.read_text())["scenarios"]
    }
    export = rows[("api.books.export", "cold")]
    assert export["status"] == 200 and export["queries"] == 2
    assert 0 < export["ttfb_ms"] <= export["p99_ms"]
    assert rows[("api.books.list", "cold")]["ttfb_ms"] is None
    assert "streamed: api.books.export" in out
