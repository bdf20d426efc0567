"""Query and latency budgets: the one definition bench and the tests both read.

Budgets are project data, not part of this app: a TOML file named by ``--budget PATH``,
and by the ``BENCH_BUDGETS`` setting for code that wants the project's own (tests that
assert a scenario's budget). Each ``[[budget]]`` names a scenario glob and any of
``max_queries``, ``max_duplicates``, ``max_p95_ms`` and ``max_ttfb_ms`` (the median
time to the first byte of a streamed body); every matching entry applies, less the
scenarios its optional ``exclude`` globs name. Entries apply to the tuned variant
unless ``variant`` says otherwise, and to both cache modes unless ``cache`` says
otherwise.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

LIMITS = {
    "max_queries": "queries",
    "max_duplicates": "duplicate_queries",
    "max_p95_ms": "p95_ms",
    "max_ttfb_ms": "ttfb_ms",
}
TIMING_LIMITS = {"max_p95_ms", "max_ttfb_ms"}


@dataclass(frozen=True)
class Budget:
    scenario: str  # fnmatch glob over scenario names
    variant: str = "tuned"  # "tuned", "naive" or "*"
    cache: str = "*"  # "cold", "warm" or "*"
    max_queries: int | None = None
    max_duplicates: int | None = None
    max_p95_ms: float | None = None
    max_ttfb_ms: float | None = None
    exclude: tuple[str, ...] = ()  # globs of scenarios this entry leaves alone

    def applies(self, name: str, variant: str, cache: str) -> bool:
        return (
            fnmatch.fnmatchcase(name, self.scenario)
            and not any(fnmatch.fnmatchcase(name, glob) for glob in self.exclude)
            and fnmatch.fnmatchcase(variant, self.variant)
            and fnmatch.fnmatchcase(cache, self.cache)
        )


@dataclass(frozen=True)
class Breach:
    name: str
    variant: str
    cache: str
    metric: str  # "queries", "duplicate_queries" or "p95_ms"
    actual: float
    limit: float
    rule: str  # the glob that set the limit

    def __str__(self) -> str:
        return (
            f"{self.name} [{self.variant}, {self.cache}]: {self.metric} "
            f"{self.actual:g} > {self.limit:g} (budget {self.rule!r})"
        )


def default_path() -> Path | None:
    """The project's budget file (``settings.BENCH_BUDGETS``), if it names one."""
    path = getattr(settings, "BENCH_BUDGETS", None)
    return Path(path) if path else None


def load(path: Path | str | None = None) -> list[Budget]:
    """Parse a budget file (default: ``BENCH_BUDGETS``); unknown keys are an error, so
    typos cannot pass CI."""
    path = path or default_path()
    if path is None:
        raise ImproperlyConfigured("No budget file: pass a path or set BENCH_BUDGETS.")
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    budgets = []
    for entry in data.get("budget", []):
        unknown = set(entry) - {"scenario", "variant", "cache", "exclude", *LIMITS}
        if unknown or "scenario" not in entry:
            raise ValueError(f"{path}: bad budget entry {entry!r} (unknown {unknown})")
        exclude = entry.pop("exclude", [])
        if not isinstance(exclude, list):
            raise ValueError(f"{path}: exclude is a list of globs in {entry!r}")
        budgets.append(Budget(**entry, exclude=tuple(exclude)))
    return budgets


def check(
    rows: list[dict], budgets: list[Budget], *, timing: bool = True
) -> list[Breach]:
    """Every limit that a result row (bench's JSON shape) exceeds.

    With any budget in force, an error status is a breach too: a 500 runs fewer
    queries than a 200 and would otherwise pass every query budget.
    """
    breaches = []
    for row in rows:
        if budgets and row.get("status", 200) >= 400:
            breaches.append(
                Breach(
                    row["name"],
                    row["variant"],
                    row["cache"],
                    "status",
                    row["status"],
                    399,
                    "every response succeeds",
                )
            )
        for budget in budgets:
            if not budget.applies(row["name"], row["variant"], row["cache"]):
                continue
            for limit_name, metric in LIMITS.items():
                limit = getattr(budget, limit_name)
                actual = row.get(metric)
                if limit is None or actual is None:
                    continue
                if limit_name in TIMING_LIMITS and not timing:
                    continue
                if actual > limit:
                    breaches.append(
                        Breach(
                            row["name"],
                            row["variant"],
                            row["cache"],
                            metric,
                            actual,
                            limit,
                            budget.scenario,
                        )
                    )
    return breaches


def limit_for(
    budgets: list[Budget], name: str, variant: str, cache: str, limit_name: str
) -> float | None:
    """The tightest matching limit, for tests that assert one scenario's budget."""
    values = [
        getattr(b, limit_name)
        for b in budgets
        if b.applies(name, variant, cache) and getattr(b, limit_name) is not None
    ]
    return min(values) if values else None
