"""The two passes over every scenario: an audit pass, then a timing pass.

The audit pass records each query with its call site (slow, and it says so); the
timing pass runs with no instrumentation at all, so stack walks never show up in the
latencies. Both send anonymous GETs accepting gzip through the real middleware stack:
the audit through ``django.test.Client``, the timing through ``bench.client.Server``,
the WSGI application called as a server calls it. "cold" clears the caches before
every request; "warm" is the request after an identical one primed them.
"""

from __future__ import annotations

import functools
import gc
import inspect
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.test import Client

from bench import sql as sqlmod
from bench.client import Server, fetch
from bench.probe import (
    CacheStats,
    Query,
    clear_caches,
    count_cache,
    record_queries,
)
from bench.scenarios import Scenario

CACHE_MODES = ("cold", "warm")
N_PLUS_ONE_MIN = 3  # the same fingerprint this many times in one request is an N+1
NOISY_SPREAD = 1.0  # (p95 - p50) / p50 above this gets a noise warning
AUTO_SECONDS_PER_CASE = 0.6  # time box per scenario and cache mode when no --repeat
AUTO_MIN_RUNS, AUTO_MAX_RUNS = 5, 2000  # the time box bounds fast requests
BLOCK_SECONDS = 0.05  # a variant's timed requests run this long before its twin's


@dataclass
class Result:
    scenario: Scenario
    cache: str
    status: int = 0
    queries: int = 0
    # The contract's count: repeats beyond the first of each SQL fingerprint.
    duplicate_queries: int = 0
    # The debug toolbar's counts, every query of a repeated group included:
    # "similar" = same SQL, other parameters; "duplicate" = same SQL and parameters.
    similar_queries: int = 0
    exact_duplicates: int = 0
    db_ms: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ttfb_ms: float | None = None  # p50 time to the first byte: streamed bodies only
    runs: int = 0
    noisy: bool = False
    bytes: int = 0
    gzip_bytes: int = 0
    cache_gets: int = 0  # reads of cached entries (not of state a cold cache keeps)
    cache_hits: int = 0
    cache_state_reads: int = 0  # e.g. a published version: a hit even when cold
    x_cache: str | None = None
    error: str | None = None  # the exception behind a 5xx
    databases: dict[str, int] = field(default_factory=dict)  # alias -> queries
    fingerprints: list[dict] = field(default_factory=list)
    n_plus_one: list[dict] = field(default_factory=list)
    samples: list[tuple[str, object]] = field(default_factory=list)  # for --explain

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def variant(self) -> str:
        return self.scenario.variant

    @property
    def hit_ratio(self) -> float | None:
        return round(self.cache_hits / self.cache_gets, 3) if self.cache_gets else None

    def as_json(self) -> dict:
        """The contract's keys first, then the extras."""
        return {
            "name": self.name,
            "variant": self.variant,
            "cache": self.cache,
            "status": self.status,
            "queries": self.queries,
            "duplicate_queries": self.duplicate_queries,
            "db_ms": round(self.db_ms, 2),
            "p50_ms": _r(self.p50_ms),
            "p95_ms": _r(self.p95_ms),
            "bytes": self.bytes,
            "gzip_bytes": self.gzip_bytes,
            "p99_ms": _r(self.p99_ms),
            "ttfb_ms": _r(self.ttfb_ms),
            "runs": self.runs,
            "noisy": self.noisy,
            "path": self.scenario.path,
            "route": self.scenario.route,
            "group": self.scenario.group or self.scenario.route,
            "view": self.scenario.view,
            "similar_queries": self.similar_queries,
            "exact_duplicates": self.exact_duplicates,
            "cache_gets": self.cache_gets,
            "cache_hits": self.cache_hits,
            "cache_state_reads": self.cache_state_reads,
            "hit_ratio": self.hit_ratio,
            "x_cache": self.x_cache,
            "error": self.error,
            "databases": self.databases,
            "n_plus_one": self.n_plus_one,
            "fingerprints": self.fingerprints,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


PERCENTILES = (50, 95, 99)


def percentiles(samples: list[float]) -> dict[int, float]:
    """p50, p95 and p99 by linear interpolation between closest ranks (numpy's
    default, which is ``statistics.quantiles``' "inclusive" method)."""
    if len(samples) == 1:
        return dict.fromkeys(PERCENTILES, samples[0])
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {pct: cuts[pct - 1] for pct in PERCENTILES}


def _parent_model(scenario: Scenario, queries: list[Query]) -> type[Model] | None:
    """The model a view lists or shows: the route's, else the first query's table."""
    if scenario.model is not None:
        return scenario.model
    for query in queries:
        model = sqlmod.model_for_table(sqlmod.main_table(query.sql))
        if model is not None:
            return model
    return None


@functools.cache
def _queryset_site(cls: type | None) -> str | None:
    """Where the view builds its queryset: ``get_queryset`` or its ``queryset``."""
    if cls is None:
        return None
    for klass in cls.__mro__:
        if klass.__module__.split(".")[0] in ("django", "rest_framework"):
            continue  # the generic defaults are not where a fix goes
        if "get_queryset" in vars(klass) or "queryset" in vars(klass):
            attr = "get_queryset" if "get_queryset" in vars(klass) else "queryset"
            try:
                target = vars(klass)[attr] if attr == "get_queryset" else klass
                source_file = inspect.getsourcefile(target)
                if source_file is None:  # no file: as the TypeError below
                    return f"{klass.__qualname__}.{attr}"
                source = Path(source_file).resolve()
                line = inspect.getsourcelines(target)[1]
                rel = source.relative_to(Path(settings.BASE_DIR).resolve())
            except (TypeError, OSError, ValueError):
                return f"{klass.__qualname__}.{attr}"
            return f"{klass.__qualname__}.{attr} ({rel}:{line})"
    return None


def _n_plus_one_site(
    fp: str, group: list[Query], parent: type[Model] | None, where: str | None
) -> dict:
    """One repeated fingerprint: where it came from and the queryset call to fix it."""
    sites = Counter(q.site for q in group)
    templates = Counter(q.template for q in group if q.template)
    hint = sqlmod.fix_hint(fp, parent)
    if hint and where:
        hint = f"{hint} in {where}"
    return {
        "fingerprint": fp,
        "summary": sqlmod.summary(fp),
        "count": len(group),
        "table": sqlmod.main_table(fp),
        "site": sites.most_common(1)[0][0],
        "template": templates.most_common(1)[0][0] if templates else None,
        "hint": hint,
    }


def analyse(result: Result, queries: list[Query]) -> None:
    """Counts, duplicate fingerprints, N+1 sites and fix hints for one request."""
    groups: dict[str, list[Query]] = defaultdict(list)
    for query in queries:
        groups[sqlmod.fingerprint(query.sql)].append(query)
    by_size = sorted(groups.items(), key=lambda item: -len(item[1]))
    similar = Counter(q.sql for q in queries)
    exact = Counter((q.sql, repr(q.params)) for q in queries)
    result.queries = len(queries)
    result.databases = dict(Counter(q.alias for q in queries))
    result.db_ms = sum(q.ms for q in queries)
    result.duplicate_queries = sum(len(g) - 1 for g in groups.values())
    # As django-debug-toolbar's SQL panel counts them: every member of a group of 2+.
    result.similar_queries = sum(n for n in similar.values() if n > 1)
    result.exact_duplicates = sum(n for n in exact.values() if n > 1)
    result.fingerprints = [
        {"fingerprint": fp, "count": len(g), "ms": round(sum(q.ms for q in g), 2)}
        for fp, g in by_size
    ]
    result.samples = [(g[0].sql, g[0].params) for g in groups.values()]
    repeated = [(fp, g) for fp, g in by_size if len(g) >= N_PLUS_ONE_MIN]
    if repeated:
        parent = _parent_model(result.scenario, queries)
        where = _queryset_site(result.scenario.view_class)
        result.n_plus_one = [
            _n_plus_one_site(fp, group, parent, where) for fp, group in repeated
        ]


def audit(
    client: Client,
    scenario: Scenario,
    modes: tuple[str, ...] = CACHE_MODES,
    clear: Callable[[], None] = clear_caches,
) -> list[Result]:
    """One recorded request per cache mode: cold (``clear`` first), then warm.

    The cold request also learns which keys are state rather than entries: a key it
    finds although nothing was cached since the clear (the warm one reads it too).
    """
    results = []
    state: set[str] = set()
    for mode in modes:
        result = Result(scenario, mode)
        if mode == "cold":
            clear()
        elif "cold" not in modes:
            clear()  # prime from cold: warm means a second request
            with count_cache(CacheStats(state=state, learn=True)):
                fetch(client, scenario.path)
        stats = CacheStats(state=state, learn=mode == "cold")
        with record_queries() as queries, count_cache(stats):
            response, body, gzip_bytes = fetch(client, scenario.path)
        result.status = response.status_code
        result.bytes, result.gzip_bytes = len(body), gzip_bytes
        result.x_cache = response.get("X-Cache")
        exc_info = getattr(response, "exc_info", None)
        if exc_info:
            result.error = f"{exc_info[0].__name__}: {exc_info[1]}"
        result.cache_gets, result.cache_hits = stats.gets, stats.hits
        result.cache_state_reads = stats.state_reads
        analyse(result, queries)
        results.append(result)
    return results


def _runs_for(first_ms: float, repeat: int | None) -> int:
    if repeat:
        return repeat
    wanted = int(AUTO_SECONDS_PER_CASE * 1000 / max(first_ms, 0.1))
    return max(AUTO_MIN_RUNS, min(AUTO_MAX_RUNS, wanted))


def _timed_request(
    server: Server, result: Result, clear: Callable[[], None]
) -> tuple[float, float | None]:
    """One uninstrumented request: (ms to the end of the body, ms to its first byte
    when it is streamed, else None). A cold one clears the caches first."""
    if result.cache == "cold":
        clear()
        server.settle()
    first: list[float] = []
    started = time.perf_counter()
    server.get(result.scenario.path, lambda: first.append(time.perf_counter()))
    total = (time.perf_counter() - started) * 1000
    return total, (first[0] - started) * 1000 if first else None


def time_pair(
    server: Server,
    pair: list[Result],
    repeat: int | None,
    clear: Callable[[], None] = clear_caches,
) -> None:
    """Time a tuned result and its naive twin (same name, same cache mode).

    Each is warmed up (primed too when warm), then their samples alternate in
    blocks of at least ``BLOCK_SECONDS``, so a spell of load on the machine hits both
    alike and their ratio stays honest, while each is timed in its own steady state,
    as under a steady stream of requests: a 0.2 ms cache hit timed right after an
    80 ms naive request (or any pause) takes 1 ms, the next few 0.4 ms, because the
    CPU's caches and the scheduler went to the other work. Nothing is instrumented.
    """
    runs: dict[int, int] = {}
    samples: dict[int, list[float]] = {}
    firsts: dict[int, list[float]] = {}
    for result in pair:
        if result.cache == "warm":
            _timed_request(server, result, clear)  # prime
        first, _ = _timed_request(server, result, clear)  # warm-up: plans, pools
        runs[id(result)] = _runs_for(first, repeat)
        samples[id(result)], firsts[id(result)] = [], []
    while any(len(samples[id(r)]) < runs[id(r)] for r in pair):
        for result in pair:
            taken, block_ends = samples[id(result)], time.perf_counter() + BLOCK_SECONDS
            while len(taken) < runs[id(result)]:
                total, ttfb = _timed_request(server, result, clear)
                taken.append(total)
                if ttfb is not None:
                    firsts[id(result)].append(ttfb)
                if time.perf_counter() >= block_ends:
                    break
    for result in pair:
        taken = samples[id(result)]
        if firsts[id(result)]:
            result.ttfb_ms = statistics.median(firsts[id(result)])
        result.runs = len(taken)
        cuts = percentiles(taken)
        result.p50_ms, result.p95_ms, result.p99_ms = cuts[50], cuts[95], cuts[99]
        spread = result.p95_ms - result.p50_ms
        result.noisy = len(taken) >= 3 and spread > NOISY_SPREAD * max(
            result.p50_ms, 0.5
        )


class Step(NamedTuple):
    """One measurement of every scenario; with --sizes, one per size."""

    size: int | None
    dataset: dict
    results: list[Result]
    notes: list[str]


def dataset_info(counts: Mapping[str, Callable[[], int]]) -> dict:
    """The declared counts (DATASET), then the database vendor."""
    return {
        **{name: count() for name, count in counts.items()},
        "database": connection.vendor,
    }


def run(
    scenarios: list[Scenario],
    *,
    client: Client,
    repeat: int | None,
    timing: bool = True,
    modes: tuple[str, ...] = CACHE_MODES,
    clear: Callable[[], None] = clear_caches,
    advance: Callable[[str], None] | None = None,
) -> list[Result]:
    """Audit every scenario, then time every scenario; results in scenario order.

    ``clear`` makes the caches cold (``probe.clear_caches`` with the declared
    CLEAR_CACHE functions)."""
    results: list[Result] = []
    for scenario in scenarios:
        if advance:
            advance(f"audit {scenario.name} [{scenario.variant}]")
        results.extend(audit(client, scenario, modes, clear))
    if timing:
        gc.collect()  # once: the audit's records are garbage now, not mid-timing
        server = Server.like(client)
        pairs: dict[tuple[str, str], list[Result]] = defaultdict(list)
        for result in results:
            pairs[(result.name, result.cache)].append(result)
        for (name, cache), pair in pairs.items():
            if advance:
                for _ in pair:
                    advance(f"time {name} [{cache}]")
            time_pair(server, pair, repeat, clear)
    return results
