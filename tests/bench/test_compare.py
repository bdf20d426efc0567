"""bench.compare: counts are exact, a p50 changes only beyond the noise."""

import json

import pytest
from django.core.management import CommandError

from bench import compare

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


def _row(p50: float, p95: float | None = None, *, queries: int = 2, **extra) -> dict:
    return {
        "name": extra.pop("name", "api.books.list"),
        "variant": "tuned",
        "cache": "cold",
        "queries": queries,
        "duplicate_queries": 0,
        "p50_ms": p50,
        "p95_ms": p50 if p95 is None else p95,
        "runs": 10,
        **extra,
    }


def _doc(*rows: dict, debug: bool = False, books: int = 300, db="sqlite") -> dict:
    return {
        "dataset": {"books": books, "database": db},
        "meta": {"debug": debug, "cache": "LocMemCache"},
        "scenarios": list(rows),
    }


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (_row(10.0), _row(11.9), None),  # within 20%
        (_row(10.0, 14.0), _row(13.0), None),  # beyond 20%, within the 4 ms spread
        (_row(1.0), _row(1.4), None),  # 40%, but under the 0.5 ms floor
        (_row(10.0, 10.5), _row(13.0, 13.5), "slower"),
        (_row(10.0, 10.5), _row(7.0, 7.2), "faster"),
        (_row(10.0), _row(30.0, runs=2), None),  # two requests: no median to trust
    ],
)
def test_a_p50_changes_only_beyond_threshold_spread_and_floor(before, after, expected):
    assert compare.p50_change(before, after) == expected


def _run(p50s: list[float]) -> dict:
    return _doc(*(_row(p50, p50 * 1.05, name=f"s{i}") for i, p50 in enumerate(p50s)))


def test_a_row_that_moves_against_the_pack_is_a_change():
    baseline = _run([10.0] * 10)
    steady = [10.0 * (1 + (-1) ** i * 0.02) for i in range(10)]

    changes = compare.compare(_run([*steady[:9], 20.0]), baseline)

    assert [(c["name"], c["change"]) for c in changes] == [("s9", "slower")]


def test_a_machine_that_got_slower_is_drift_not_a_change():
    baseline = _run([10.0] * 10)
    loaded = _run([15.0 * (1 + (-1) ** i * 0.02) for i in range(10)])

    assert compare.compare(loaded, baseline) == []
    found = compare.noise_of(loaded, baseline)
    assert 1.45 < found.drift < 1.55
    assert "x1.5" in compare.drift_warning(found)


def test_rows_that_scatter_widely_widen_the_band():
    """Unchanged code that moves +-50% between runs: a 2x row is within that."""
    baseline = _run([10.0] * 10)
    scattered = [10.0 * (1.5 if i % 2 else 0.66) for i in range(9)]

    assert compare.compare(_run([*scattered, 20.0]), baseline) == []


def test_counts_are_exact():
    changes = compare.compare(_doc(_row(5.0, queries=3)), _doc(_row(5.0, queries=2)))

    assert [(c["change"], c["metric"], c["before"], c["after"]) for c in changes] == [
        ("more", "queries", 2, 3)
    ]


def test_regressions_are_tuned_rows_slower_beyond_pct_or_with_more_queries():
    baseline = _doc(_row(10.0, 10.2), _row(10.0, 10.2, variant="naive"))
    slower = _doc(_row(13.0, 13.2), _row(30.0, 30.2, variant="naive"))

    assert compare.regressions(slower, baseline, pct=50) == []  # 30% < 50%
    [regression] = compare.regressions(slower, baseline, pct=20)
    assert (regression["variant"], regression["change"]) == ("tuned", "slower")
    more = compare.regressions(_doc(_row(10.0, queries=3)), baseline, pct=20)
    assert [r["metric"] for r in more] == ["queries"]


def test_runs_made_under_other_conditions_are_named():
    baseline = _doc(_row(5.0))
    other = _doc(_row(5.0), debug=True, books=2000, db="postgresql")

    found = compare.warnings(other, baseline)

    assert found == [
        "DEBUG False -> True",
        "database sqlite -> postgresql",
        "data 300 books -> 2,000 books",
    ]
    assert compare.warnings(baseline, baseline) == []


@pytest.mark.urls(TEST_URLS)
def test_two_runs_of_unchanged_code_report_no_change(book_factory, tmp_path, run_bench):
    book_factory(4)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    args = ("--scenario", "api.books.list", "--repeat", "7")
    run_bench(*args, "--json", str(first))

    out = run_bench(
        *args,
        "--compare",
        str(first),
        "--fail-on-regression",
        "20",
        "--json",
        str(second),
    )

    doc = json.loads(second.read_text())["compare"]
    assert doc["changes"] == [] and doc["warnings"] == [] and doc["rows"] == 4
    assert "No change against the baseline in 4 rows" in out
    # The first run in a process is often slower as a whole (Python specialises
    # hot bytecode as it runs): that is drift, warned about, never a change.
    assert doc["drift"] > 0


@pytest.mark.urls(TEST_URLS)
def test_fail_on_regression_exits_1_when_tuned_queries_grow(
    book_factory, tmp_path, run_bench
):
    book_factory(2)
    baseline = tmp_path / "baseline.json"
    run_bench("--scenario", "api.books.list", "--no-timing", "--json", str(baseline))
    doc = json.loads(baseline.read_text())
    for row in doc["scenarios"]:
        row["queries"] -= row["variant"] == "tuned"
    baseline.write_text(json.dumps(doc))

    with pytest.raises(CommandError, match="regression"):
        run_bench(
            "--scenario",
            "api.books.list",
            "--no-timing",
            "--compare",
            str(baseline),
            "--fail-on-regression",
            "20",
        )


def test_fail_on_regression_needs_a_baseline(run_bench):
    with pytest.raises(CommandError, match="--compare"):
        run_bench("--fail-on-regression", "20")
