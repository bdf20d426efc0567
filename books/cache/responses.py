"""Whole anonymous responses from the cache, with ETag/304 and ``X-Cache``.

An entry is the rendered body plus content headers and the generation it was built
at, stored under a key without a version: one MGET of the generation and the entry
answers a hit. An entry of an older generation is a miss and is overwritten. Only 200s
are stored; the ETag derives from the key and the generation, so a write changes it.
Under DEBUG, ``?nocache=1`` renders without the cache (``books.cache.bypass``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)

from books.cache import breaker, locks
from books.cache.bypass import bypassed
from books.cache.freshness import read_with_generation
from books.cache.keys import RESPONSE_TTL, response_key
from core.timing import timed

Entry = dict[str, Any]
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary", "Allow")


def etag_for(key: str, generation: int) -> str:
    digest = hashlib.blake2b(f"{key}:{generation}".encode(), digest_size=12)
    return f'"{digest.hexdigest()}"'


def freeze(response: HttpResponse, generation: int) -> Entry:
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    return {
        "gen": generation,
        "status": response.status_code,
        "body": response.content,
        "headers": {h: response[h] for h in _KEPT_HEADERS if response.has_header(h)},
    }


def thaw(entry: Entry) -> HttpResponse:
    response = HttpResponse(entry["body"], status=entry["status"])
    for header, value in entry["headers"].items():
        response[header] = value
    return response


def _compute(
    key: str, generation: int, render: Callable[[], HttpResponse]
) -> tuple[HttpResponse, Entry | None]:
    """Render once per key and generation (stampede lock); store a 200."""
    locked = False
    if generation >= 0 and breaker.cache_available():
        entry, locked = locks.wait_or_lock(
            key, generation=generation, fresh=lambda e: e.get("gen") == generation
        )
        if entry is not None:
            return thaw(entry), entry
    try:
        response = render()
        if response.status_code != 200:
            return response, None
        entry = freeze(response, generation)
        if generation >= 0:
            with timed():
                cache.set(key, entry, RESPONSE_TTL)
        return thaw(entry), entry
    finally:
        if locked:
            locks.release(key, generation=generation)


def cached_response(
    request: HttpRequest,
    render: Callable[[], HttpResponse],
    *,
    namespace: str,
    variant: str = "",
    params: Collection[str] | None = None,
) -> HttpResponse:
    """Serve an anonymous GET from the cache, with ETag, 304 and ``X-Cache``.

    ``render()`` returns a rendered response. A matching ``If-None-Match`` (weakly
    compared, ``*`` included) is a 304 only where a 200 would have been served; with
    the cache unreachable there is no ETag (nothing could say when it went stale).
    """
    if bypassed(request):  # ?nocache=1 under DEBUG: run everything, store nothing
        response = render()
        patch_vary_headers(response, ("Authorization",))
        response["X-Cache"] = "BYPASS"
        return response
    key = response_key(request, namespace=namespace, variant=variant, params=params)
    generation, entry = read_with_generation(key)
    hit = entry is not None and entry.get("gen") == generation
    if hit:
        response = thaw(entry)
    else:
        response, entry = _compute(key, generation, render)
    if entry is not None and generation >= 0:
        etag = etag_for(key, generation)
        response["ETag"] = etag
        # Revalidate every time: a write must be visible on the very next read.
        patch_cache_control(response, public=True, max_age=0, must_revalidate=True)
        patch_vary_headers(response, ("Authorization",))
        response = get_conditional_response(request, etag=etag, response=response)
    else:
        patch_vary_headers(response, ("Authorization",))
    response["X-Cache"] = "HIT" if hit else "MISS"
    return response
