"""bench.runner: percentiles, and the counts of one request's queries."""

import pytest

from bench.probe import Query
from bench.runner import Result, analyse, percentiles
from bench.scenarios import Scenario


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


def _query(sql: str, *params: object) -> Query:
    return Query(sql, params, 0.1, None, None)


def test_similar_and_duplicate_queries_are_counted_as_the_debug_toolbar_counts():
    """similar: same SQL, any parameters; duplicate: same SQL and parameters; both
    count every query of a group of two or more. duplicate_queries (the contract's)
    counts the repeats after the first of each SQL shape."""
    author = 'SELECT * FROM "books_author" WHERE "id" = %s'
    queries = [
        _query('SELECT * FROM "books_book" LIMIT 20'),
        _query(author, 1),
        _query(author, 2),
        _query(author, 1),
        _query('SELECT * FROM "books_publisher" WHERE "id" = %s', 9),
    ]
    scenario = Scenario("api.books.list", "tuned", "api:book-list", "/api/books/", "v")
    result = Result(scenario, "cold")

    analyse(result, queries)

    assert result.queries == 5
    assert result.similar_queries == 3  # the three author lookups
    assert result.exact_duplicates == 2  # author 1, twice
    assert result.duplicate_queries == 2  # 3 author lookups = 1 + 2 repeats
