"""Prometheus metrics (prometheus-client) and ``GET /metrics``.

- ``django_http_request_duration_seconds{view, method, status}``: latency by route
  name (``api:book-list``, never the raw path), method and status class (``2xx``).
  Its ``_count`` is the request rate, and the 5xx rate.
- ``django_db_queries_per_request{view}``: statements per request (from the execute
  wrapper in ``core.db.instrument``); ``django_db_slow_queries_total{view}``.
- ``django_cache_responses_total{view, result}``: the ``X-Cache`` header, HIT or MISS.
- ``django_db_pool_*{alias}``: psycopg's pool statistics for every PostgreSQL alias
  with a pool (size, idle, waiting clients; requests, wait time, errors, lost
  connections), refreshed at most once a second per process and at each scrape.

Latency is measured from after the request id is set to the response's return, so a
streamed body's transfer is not in it (the export's ``bench`` row has both).

Several gunicorn workers: set ``PROMETHEUS_MULTIPROC_DIR`` (an empty, writable
directory; ``config/gunicorn.py`` empties it at start and marks dead workers) and
every worker writes its values there; a scrape, served by any worker, adds them up.

``/metrics`` is not public: staff users and the addresses in ``METRICS_ALLOWED_IPS``
may read it, everyone else gets the site's ordinary 404.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, URLResolver, get_resolver, get_urlconf
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from core.db.instrument import tally_queries
from core.logs import view_var

disable_created_metrics()  # no *_created series: a timestamp per series, never read

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"  # a path no route matches: one label, not one per path
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_SECONDS = Histogram(
    "django_http_request_duration_seconds",
    "Time from request to response (not a streamed body's transfer).",
    ["view", "method", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUERIES = Histogram(
    "django_db_queries_per_request",
    "SQL statements run by one request.",
    ["view"],
    buckets=(0, 1, 2, 3, 4, 6, 10, 20, 50, 100, 500),
)
SLOW_QUERIES = Counter(
    "django_db_slow_queries",
    "Statements that took SLOW_QUERY_MS or more.",
    ["view"],
)
CACHE_RESPONSES = Counter(
    "django_cache_responses",
    "Responses by their X-Cache header.",
    ["view", "result"],
)

# psycopg_pool's get_stats(): levels become gauges (summed over live workers), running
# totals become counters (each process adds what grew since it last looked).
_POOL_LEVELS = {
    "pool_size": ("size", "Connections the pool holds, busy or idle."),
    "pool_available": ("available", "Idle connections in the pool."),
    "pool_max": ("max_size", "The pool's max_size."),
    "requests_waiting": ("requests_waiting", "Clients waiting for a connection."),
}
_POOL_TOTALS = {
    "requests_num": ("requests", "Connections handed out.", 1),
    "requests_queued": ("requests_queued", "Requests that had to wait.", 1),
    "requests_wait_ms": ("wait_seconds", "Time spent waiting.", 1000),
    "requests_errors": ("errors", "Requests that timed out or failed.", 1),
    "connections_lost": ("connections_lost", "Connections found broken.", 1),
}
POOL_LEVELS = {
    key: Gauge(f"django_db_pool_{name}", text, ["alias"], multiprocess_mode="livesum")
    for key, (name, text) in _POOL_LEVELS.items()
}
POOL_TOTALS = {
    key: (Counter(f"django_db_pool_{name}", text, ["alias"]), scale)
    for key, (name, text, scale) in _POOL_TOTALS.items()
}
POOL_REFRESH_SECONDS = 1.0


class _PoolWatch:
    """Copies each pool's statistics into the metrics, at most once per interval."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last = float("-inf")
        self.seen: dict[tuple[str, str], float] = {}

    def refresh(self, every: float = 0.0) -> None:
        if time.monotonic() - self.last < every:
            return
        with self.lock:
            if time.monotonic() - self.last < every:
                return
            self.last = time.monotonic()
            for alias, stats in _pool_stats():
                self._record(alias, stats)

    def _record(self, alias: str, stats: dict[str, int]) -> None:
        for key, gauge in POOL_LEVELS.items():
            gauge.labels(alias).set(stats.get(key, 0))
        for key, (counter, scale) in POOL_TOTALS.items():
            value = stats.get(key, 0)
            grown = value - self.seen.get((alias, key), 0)
            if grown > 0:
                counter.labels(alias).inc(grown / scale)
            self.seen[(alias, key)] = value


def _pool_stats() -> list[tuple[str, dict[str, int]]]:
    """``(alias, get_stats())`` for every database alias served by a psycopg pool."""
    found = []
    for alias in connections:
        options = connections.settings[alias].get("OPTIONS") or {}
        if not options.get("pool"):
            continue
        pool = getattr(connections[alias], "pool", None)
        if pool is not None:
            found.append((alias, pool.get_stats()))
    return found


pools = _PoolWatch()


# --- Per request ----------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _route(resolver: URLResolver, path: str) -> str:
    try:
        return resolver.resolve(path).view_name
    except Resolver404:
        return UNMATCHED


def route_name(request: HttpRequest) -> str:
    """The route's name (``api:book-list``), remembered per path: cache hits end in
    the front door, before Django resolves anything."""
    return _route(get_resolver(get_urlconf()), request.path_info)


class MetricsMiddleware:
    """Latency, status, queries and cache result of every request, by view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = route_name(request)
        token = view_var.set(view)
        started = time.perf_counter()
        try:
            with tally_queries() as tally:
                response = self.get_response(request)
        finally:
            view_var.reset(token)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in METHODS else "other"
        status = f"{response.status_code // 100}xx"
        REQUEST_SECONDS.labels(view, method, status).observe(elapsed)
        QUERIES.labels(view).observe(tally.count)
        if tally.slow:
            SLOW_QUERIES.labels(view).inc(tally.slow)
        cache = response.get("X-Cache")
        if cache in ("HIT", "MISS"):
            CACHE_RESPONSES.labels(view, cache.lower()).inc()
        pools.refresh(every=POOL_REFRESH_SECONDS)
        return response


# --- GET /metrics ---------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(
    allowed: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in allowed)


def _allowed_address(request: HttpRequest) -> bool:
    """The peer is allow-listed and no proxy relayed the request.

    Behind a proxy every client arrives from the proxy's address, so a request that
    carries ``X-Forwarded-For`` is never let in by address, whatever that address.
    """
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    allowed = tuple(getattr(settings, "METRICS_ALLOWED_IPS", ()))
    return any(address in network for network in _networks(allowed))


def may_read_metrics(request: HttpRequest) -> bool:
    if _allowed_address(request):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def registry() -> CollectorRegistry:
    """This process's registry, or every worker's values in multiprocess mode."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, for staff and allow-listed scrapers; a 404 otherwise
    (the same one any unknown path gets: nothing says the page exists)."""
    if not may_read_metrics(request):
        raise Http404
    pools.refresh()
    return HttpResponse(
        generate_latest(registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4
    )
