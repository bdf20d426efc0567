"""Every cache key and TTL of the catalogue.

Keys that hold catalogue data are only ever read together with the catalogue
generation (``books.cache.freshness``): responses store it beside the body, fragments
carry it in their vary-on list. Bumping it drops the whole family without a scan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from urllib.parse import urlencode

from django.http import HttpRequest

# --- TTLs (seconds) -------------------------------------------------------------------
RESPONSE_TTL = 10 * 60
FRAGMENT_TTL = 60 * 60
# A recompute holds the lock at most this long; waiters poll for at most LOCK_WAIT.
LOCK_TTL = 10
LOCK_WAIT = 3.0
LOCK_POLL = 0.05
# Writes within this window share one queued warm.
WARM_COALESCE_SECONDS = 5

CATALOGUE = "catalogue"


def generation_key(name: str = CATALOGUE) -> str:
    """The published catalogue version (no TTL: it must never be evicted early)."""
    return f"gen:{name}"


def response_key(
    request: HttpRequest,
    *,
    namespace: str,
    variant: str = "",
    params: Collection[str] | None = None,
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
    # django-stubs type scheme str | None; HttpRequest.scheme always returns a str.
    parts = (request.scheme, request.get_host(), request.path, query, variant)
    raw = "|".join(parts)  # type: ignore[arg-type]
    digest = hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()
    return f"resp:{namespace}:{digest}"


def lock_key(key: str, generation: int) -> str:
    """The recompute lock of ``key`` for one generation (a new one never waits)."""
    return f"{key}:lock:{generation}"


def catalogue_stats_key() -> str:
    """Catalogue-wide figures, overwritten by the periodic task (not generation-keyed:
    the figures carry the time they were computed, and say so wherever shown)."""
    return "catalogue_stats"


def warm_pending_key() -> str:
    """Set while a cache warm is queued, so a burst of writes sends one warm."""
    return "warm_hot_cache:pending"
