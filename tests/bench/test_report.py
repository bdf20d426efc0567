"""bench.report: the lines printed under the results table."""

from bench.report import database_lines, legend_lines
from bench.runner import Result
from bench.scenarios import Scenario


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
