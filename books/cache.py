"""Every cache key, TTL and invalidation rule of the project.

One generation number, ``catalogue``, is part of every key (passed as ``version=`` or
embedded in a fragment's vary-on list). A book list embeds authors, publishers,
genres and ratings, so any write to any catalogue model bumps it; one ``INCR`` drops
the whole family of keys without scanning. The bump runs immediately *and* again on
``transaction.on_commit``: the second bump makes sure a reader that cached old rows
while the writer's transaction was still open never serves them afterwards.

Responses are cached as rendered bytes plus headers, for anonymous GETs only, under a
stampede lock (one recompute per expired key). With IGNORE_EXCEPTIONS, a Redis outage
reads as a miss everywhere: pages and the API answer from the database.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import parse_etags

logger = logging.getLogger(__name__)

# --- TTLs (seconds) -------------------------------------------------------------------
# The generation outlives everything keyed on it; if it is lost anyway it restarts
# from the clock (see _fresh_generation), so old keys can never come back.
GENERATION_TTL = 30 * 24 * 3600
RESPONSE_TTL = 10 * 60
FRAGMENT_TTL = 60 * 60
# A recompute holds the lock at most this long; waiters poll for at most LOCK_WAIT.
LOCK_TTL = 10
LOCK_WAIT = 3.0
LOCK_POLL = 0.05

CATALOGUE = "catalogue"

# Outlives the beat interval (300 s), so readers always find a value between runs.
CATALOGUE_STATS_TTL = 15 * 60
# Writes within this window share one queued warm.
WARM_COALESCE_SECONDS = 5

# Paths warm_hot_keys() renders: the pages and endpoints every visitor hits first.
HOT_PATHS = ("/", "/api/books/", "/api/authors/", "/api/genres/")


# --- Keys -----------------------------------------------------------------------------


def generation_key(name: str = CATALOGUE) -> str:
    return f"gen:{name}"


def response_key(
    request: HttpRequest,
    *,
    namespace: str,
    variant: str = "",
    params: frozenset[str] | None = None,
) -> str:
    """Key for a rendered response: host, path, sorted query string and the variant.

    The host and scheme are included because bodies carry absolute URLs. Parameters
    are sorted so ``?a=1&b=2`` and ``?b=2&a=1`` share one entry; given ``params`` (the
    ones the view reads), others are dropped, so ``?junk=<random>`` cannot flood the
    cache with copies. ``variant`` names the negotiated media type. Accept-Encoding
    is deliberately absent: the cached body is identity-encoded and GZipMiddleware
    compresses per request, after the cache, so one entry serves every encoding.
    """
    items = request.GET.lists()
    if params is not None:
        items = ((k, v) for k, v in items if k in params)
    query = urlencode(sorted(items), doseq=True)
    raw = "|".join((request.scheme, request.get_host(), request.path, query, variant))
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    return f"resp:{namespace}:{digest}"


def lock_key(key: str) -> str:
    return f"{key}:lock"


def catalogue_stats_key() -> str:
    """Catalogue-wide figures, overwritten by the periodic task (not generation-keyed:
    a few minutes' lag on totals is the point of computing them in the background)."""
    return "catalogue_stats"


def warm_pending_key() -> str:
    """Set while a cache warm is queued, so a burst of writes sends one warm."""
    return "warm_hot_cache:pending"


def fragment_context() -> dict[str, Any]:
    """Template context for ``{% cache fragment_ttl "name" ... cache_generation %}``."""
    return {"cache_generation": generation(), "fragment_ttl": FRAGMENT_TTL}


# --- Timing, for the Server-Timing header ---------------------------------------------


@dataclass
class CacheTiming:
    seconds: float = 0.0
    calls: int = 0


_timing: contextvars.ContextVar[CacheTiming | None] = contextvars.ContextVar(
    "cache_timing", default=None
)


@contextmanager
def measure_cache_time() -> Iterator[CacheTiming]:
    """Collect the time this request spends in the cache calls below."""
    timing = CacheTiming()
    token = _timing.set(timing)
    try:
        yield timing
    finally:
        _timing.reset(token)


@contextmanager
def _timed() -> Iterator[None]:
    timing = _timing.get()
    start = time.perf_counter()
    try:
        yield
    finally:
        if timing is not None:
            timing.seconds += time.perf_counter() - start
            timing.calls += 1


# --- Generations ----------------------------------------------------------------------


def _fresh_generation() -> int:
    # Microseconds since the epoch: larger than any value an older counter can have
    # reached (that would take more than one bump per microsecond), so a counter lost
    # to a flush, an eviction or a restart never reuses a version.
    return time.time_ns() // 1000


@dataclass
class _PendingBumps:
    """Bumps that could not reach the cache; retried before the next read."""

    names: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


_pending = _PendingBumps()


# While the cache is unreachable, a hung Redis costs SOCKET_TIMEOUT per call. Once a
# call shows it is down, the helpers here skip it for BREAKER_SECONDS and read from the
# database; then one request probes it again. Writes still always try to bump.
BREAKER_SECONDS = 2.0
_cache_down_until = 0.0


def cache_available() -> bool:
    """False for BREAKER_SECONDS after the cache was found unreachable."""
    return time.monotonic() >= _cache_down_until


def _trip_breaker() -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + BREAKER_SECONDS


def generation(name: str = CATALOGUE) -> int:
    """The current generation: one cache read, created on first use.

    With the cache unreachable it returns a throwaway version that matches nothing,
    so every read goes to the database.
    """
    if not cache_available():
        return _fresh_generation()
    if _pending.names:
        _retry_pending_bumps()
    key = generation_key(name)
    with _timed():
        value = cache.get(key)
        if value is not None:
            return int(value)
        fresh = _fresh_generation()
        added = cache.add(key, fresh, GENERATION_TTL)
        if added:
            return fresh
        if added is None:  # django-redis's IGNORE_EXCEPTIONS answer: unreachable
            _trip_breaker()
            return fresh
        value = cache.get(key)
    return fresh if value is None else int(value)


def bump_generation(name: str = CATALOGUE) -> int | None:
    """Move a generation on, dropping every key built on it (None: cache down)."""
    key = generation_key(name)
    with _timed():
        try:
            value = cache.incr(key)
        except ValueError:  # missing: start from the clock, never from 1
            if cache.add(key, _fresh_generation(), GENERATION_TTL):
                value = cache.get(key)
            else:
                try:
                    value = cache.incr(key)
                except ValueError:
                    value = None
    if value is None:
        # The cache is down: entries written before the outage may survive it (a
        # paused Redis keeps its data), so this bump is retried once it answers.
        with _pending.lock:
            _pending.names.add(name)
    return value


def _retry_pending_bumps() -> None:
    with _pending.lock:
        names = set(_pending.names)
        _pending.names.clear()
    for name in names:
        bump_generation(name)


def invalidate_catalogue() -> None:
    """Invalidate every catalogue key now and again once the transaction commits.

    Services that write with ``QuerySet.update()`` or ``bulk_create()`` (which send no
    signals) call this; the signal handlers below call it for every other write.
    """
    bump_generation(CATALOGUE)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump_catalogue)


def _bump_catalogue() -> None:
    bump_generation(CATALOGUE)
    if settings.CACHE_WARM_AFTER_WRITES:
        from books.tasks import schedule_cache_warm  # tasks import this module

        schedule_cache_warm()


def clear() -> None:
    """Make every cached entry of this project unreachable (``bench`` cold runs).

    Bumping the generation is enough: every key carries it, and the orphaned entries
    expire on their TTLs. Nothing else is touched, so sessions or throttles survive.
    """
    bump_generation(CATALOGUE)


# --- Stampede-safe get-or-compute -----------------------------------------------------


def get_or_compute(
    key: str,
    compute: Callable[[], Any],
    *,
    version: int,
    timeout: int,
    store: Callable[[Any], bool] = lambda value: True,
) -> tuple[Any, bool]:
    """Return ``(value, hit)``; on a miss only one caller computes ``key``.

    The lock is a ``cache.add`` with a short TTL, so a crashed holder frees it. Others
    poll for the value; if the lock vanishes without a value (the holder failed, or
    the cache is down and ``add`` always fails), they compute it themselves rather
    than wait. ``store(value)`` decides whether a computed value is cached.
    """
    if not cache_available():
        return compute(), False
    with _timed():
        value = cache.get(key, version=version)
    if value is not None:
        return value, True

    lock = lock_key(key)
    with _timed():
        locked = cache.add(lock, 1, LOCK_TTL, version=version)
    if not locked:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            with _timed():
                found = cache.get_many([key, lock], version=version)
            if key in found:
                return found[key], True
            if lock not in found or time.monotonic() > deadline:
                break
            time.sleep(LOCK_POLL)
    try:
        value = compute()
        if store(value):
            with _timed():
                cache.set(key, value, timeout, version=version)
    finally:
        if locked:
            with _timed():
                cache.delete(lock, version=version)
    return value, False


# --- Whole responses ------------------------------------------------------------------


def _etag(key: str, version: int) -> str:
    return '"{}"'.format(
        hashlib.blake2b(f"{key}:{version}".encode(), digest_size=12).hexdigest()
    )


def _etag_matches(etag: str, if_none_match: str) -> bool:
    # Weak comparison (RFC 9110 13.1.2): GZipMiddleware turns our strong ETag into
    # W/"..." when it compresses, and clients send that form back.
    if not if_none_match:
        return False
    candidates = parse_etags(if_none_match)
    return "*" in candidates or etag in (c.removeprefix("W/") for c in candidates)


def is_anonymous_request(request: HttpRequest) -> bool:
    """No credentials at all: no Authorization header and no session cookie.

    Decided from headers alone, so a cache hit needs no session or token query, and a
    request that might be authenticated never reaches the shared cache.
    """
    return (
        "HTTP_AUTHORIZATION" not in request.META
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def cached_response(
    request: HttpRequest,
    render: Callable[[], HttpResponse],
    *,
    namespace: str,
    variant: str = "",
    params: frozenset[str] | None = None,
) -> HttpResponse:
    """Serve an anonymous GET from the cache, with ETag, 304 and ``X-Cache``.

    ``render()`` returns a rendered response; only 200s are stored, as body bytes plus
    content headers. The ETag derives from the key and generation, so a matching
    ``If-None-Match`` is answered with no database query and no rendering at all.
    """
    version = generation()
    key = response_key(request, namespace=namespace, variant=variant, params=params)
    etag = _etag(key, version)

    if _etag_matches(etag, request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
        hit = True
    else:
        entry, hit = get_or_compute(
            key,
            lambda: _freeze(render()),
            version=version,
            timeout=RESPONSE_TTL,
            store=lambda entry: entry["status"] == 200,
        )
        response = _thaw(entry)
    response["X-Cache"] = "HIT" if hit else "MISS"
    if response.status_code in (200, 304):
        response["ETag"] = etag
        # Revalidate every time: a write must be visible on the very next read.
        patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
    patch_vary_headers(response, ("Authorization",))
    return response


_KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary", "Allow")


def _freeze(response: HttpResponse) -> dict[str, Any]:
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    return {
        "status": response.status_code,
        "body": response.content,
        "headers": {h: response[h] for h in _KEPT_HEADERS if response.has_header(h)},
        "response": None if response.status_code == 200 else response,
    }


def _thaw(entry: dict[str, Any]) -> HttpResponse:
    if entry.get("response") is not None:  # an uncached non-200, passed through
        return entry["response"]
    response = HttpResponse(entry["body"], status=entry["status"])
    for header, value in entry["headers"].items():
        response[header] = value
    return response


# --- Invalidation wiring --------------------------------------------------------------


def _on_catalogue_write(sender, **kwargs) -> None:
    if kwargs.get("raw"):  # loaddata: fixtures load before the cache matters
        return
    action = kwargs.get("action")
    if action is not None and not action.startswith("post_"):
        return  # m2m_changed: bump once, after the rows changed
    invalidate_catalogue()


def connect_signals() -> None:
    """Connect invalidation to every catalogue model, once (called from apps.ready)."""
    from books.models import Author, Book, Genre, Publisher, Review

    for model in (Author, Book, Genre, Publisher, Review):
        uid = f"books.cache.{model.__name__}"
        post_save.connect(_on_catalogue_write, sender=model, dispatch_uid=uid)
        post_delete.connect(_on_catalogue_write, sender=model, dispatch_uid=uid)
    m2m_changed.connect(
        _on_catalogue_write,
        sender=Book.genres.through,
        dispatch_uid="books.cache.Book.genres",
    )


# --- Warming --------------------------------------------------------------------------


def warm_hot_keys(paths: tuple[str, ...] = HOT_PATHS) -> dict[str, str]:
    """Render the hottest pages and endpoints so the next visitor gets a HIT.

    Goes through the full request stack (the same code path as a visitor), which is
    the only way to fill the response cache with exactly what a visitor would get.
    Returns ``{path: "HIT" | "MISS" | status}`` for logging; safe to run at any time.
    """
    from django.test import Client

    # Keys carry scheme and host, so warm the ones visitors use: the first allowed
    # host, over HTTPS when the site is served over HTTPS (else the SSL redirect).
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "")]
    client = Client(HTTP_HOST=hosts[0] if hosts else "localhost")
    secure = getattr(settings, "SECURE_HTTPS", False) or settings.SECURE_SSL_REDIRECT
    results = {}
    for path in paths:
        response = client.get(path, secure=secure)
        results[path] = response.headers.get("X-Cache", str(response.status_code))
    return results


# --- Logging --------------------------------------------------------------------------


class RateLimitFilter(logging.Filter):
    """Let one record per ``interval`` seconds through; count the rest.

    django-redis logs every swallowed connection error; during an outage that is one
    traceback per cache call. This keeps one line per interval, saying how many more
    were suppressed.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._next = 0.0
        self._suppressed = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return False
            self._next = now + self.interval
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} similar suppressed)"
        return True
