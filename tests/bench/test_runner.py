"""bench.runner: percentiles."""

import pytest

from bench.runner import percentiles


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
