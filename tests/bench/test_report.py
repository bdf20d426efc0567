"""bench.report: the table fits the console (names and numbers stay whole), and the
lines printed under it."""

import pytest

from bench.report import COLUMNS, database_lines, legend_lines
from bench.runner import Result
from bench.scenarios import Scenario

pytestmark = pytest.mark.django_db

SCENARIOS = ("--scenario", "api.books.list*", "api.authors.*", "page.home*")


def _header_words() -> set[str]:
    return {column.header.split("\n")[0] for column in COLUMNS.values()}


def test_at_100_columns_nothing_is_cut(book_factory, run_bench, monkeypatch):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "100")

    out = run_bench(*SCENARIOS)

    assert "…" not in out
    lines = [line for line in out.splitlines() if line.startswith(("┃", "│", "┏"))]
    assert lines and max(len(line) for line in lines) <= 100
    assert "api.authors.list.page100" in out and "page.home.genre" in out
    for kept in ("queries", "p50 ms", "speed-up"):
        assert kept in out
    table, hidden = out.split("Hidden to fit the console: ")
    assert "p99 ms" not in table and "p99 ms" in hidden.splitlines()[0]  # first to go


def test_at_200_columns_every_column_shows(book_factory, run_bench, monkeypatch):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "200")

    out = run_bench(*SCENARIOS)

    header = "\n".join(line for line in out.splitlines() if line.startswith("┃"))
    for word in _header_words():
        assert word in header, word
    assert "…" not in out and "Hidden" not in out


def test_wide_shows_every_column_on_a_narrow_console(
    book_factory, run_bench, monkeypatch
):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "80")

    out = run_bench("--scenario", "api.books.list", "--wide")

    header = "\n".join(line for line in out.splitlines() if line.startswith("┃"))
    assert all(word in header for word in _header_words())
    assert "…" not in out


def result(name: str, cache: str, **databases: int) -> Result:
    scenario = Scenario(name, "tuned", f"api:{name}", f"/{name}/", "view")
    return Result(scenario, cache, queries=sum(databases.values()), databases=databases)


def test_one_database_adds_no_line():
    results = [result("api.books.list", "cold", default=2), result("x", "warm")]
    assert database_lines(results, configured=["default"]) == []


def test_with_replicas_configured_an_all_primary_run_says_so():
    """Replicas lagging or down: the run is on the primary, and the legend says it."""
    results = [result("api.books.list", "cold", default=2)]
    lines = database_lines(results, configured=["default", "replica1"])
    assert [text for _, text in lines] == [
        "databases: queries in the audit pass by alias: default 2",
        "  default: every run with queries (1)",
    ]


def test_with_replicas_the_aliases_are_counted_and_primary_reads_named():
    results = [
        result("api.books.list", "cold", replica1=2),
        result("api.authors.list", "cold", replica1=1),
        result("api.books.detail", "cold", default=1, replica1=2),
        result("api.books.list", "warm"),  # a cache hit ran nothing
    ]
    lines = [text for _, text in database_lines(results, configured=["default"])]
    assert lines[0].endswith("by alias: default 1, replica1 5")
    assert lines[1] == "  replica1: every other run with queries (2)"
    assert lines[2] == "  default + replica1: api.books.detail [tuned, cold]"
    assert database_lines(results)[0] in legend_lines(results)


def test_a_single_database_group_is_summed_up_not_listed():
    results = [result(f"api.{n}", "cold", replica1=1) for n in range(12)]
    lines = [text for _, text in database_lines(results, ["default", "replica1"])]
    assert lines == [
        "databases: queries in the audit pass by alias: replica1 12",
        "  replica1: every run with queries (12)",
    ]
