"""Whole anonymous responses from the cache, with ETag/304 and ``X-Cache``.

An entry is the rendered body, its gzip and Brotli encodings (compressed once, when
stored), the content headers and the generation it was built at, stored under a key
without a version: one MGET of the generation and the entry answers a hit, and a hit
never compresses. An entry of an older generation is a miss and is overwritten. Only
200s are stored; the ETag derives from the key and the generation, so a write
changes it.

Two callers: ``FrontDoorCacheMiddleware`` (``books.cache.middleware``) answers hits
before sessions, authentication, CSRF and DRF run; on a miss the view renders and
stores through ``cached_response()``, reusing the front door's lookup.
Under DEBUG, ``?nocache=1`` renders without the cache (``books.cache.bypass``).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import brotli
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_conditional_response, patch_vary_headers

from books.cache import breaker, locks
from books.cache.bypass import bypassed, toolbar_shown
from books.cache.freshness import read_with_generation, reading_at
from books.cache.keys import RESPONSE_TTL, response_key
from core.timing import timed

Entry = dict[str, Any]
_KEPT_HEADERS = ("Content-Type", "Content-Language", "Vary", "Allow")
# Below this, compression costs more than it saves (GZipMiddleware's own threshold).
MIN_COMPRESS = 200
GZIP_LEVEL = 6  # GZipMiddleware's
BROTLI_QUALITY = 5  # smaller than gzip -6 and still cheap; done once per entry


@dataclass(frozen=True)
class Lookup:
    """What the front door found, handed to the view on a miss."""

    key: str
    generation: int
    entry: Entry | None

    @property
    def hit(self) -> bool:
        return self.entry is not None and self.entry.get("gen") == self.generation


def lookup(key: str) -> Lookup:
    generation, entry = read_with_generation(key)
    return Lookup(key, generation, entry)


def etag_for(key: str, generation: int) -> str:
    digest = hashlib.blake2b(f"{key}:{generation}".encode(), digest_size=12)
    return f'"{digest.hexdigest()}"'


def freeze(response: HttpResponse, generation: int) -> Entry:
    """A stored entry: the body once, plus its encodings when they pay."""
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()
    body = response.content
    encodings = {}
    if len(body) >= MIN_COMPRESS:
        encodings["br"] = brotli.compress(body, quality=BROTLI_QUALITY)
        encodings["gzip"] = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
    headers = {h: response[h] for h in _KEPT_HEADERS if response.has_header(h)}
    # What every hit adds, worked out once here instead of on each hit.
    vary = ["Authorization", *(["Accept-Encoding"] if encodings else [])]
    headers["Vary"] = _merge_vary(headers.get("Vary", ""), vary)
    headers["Cache-Control"] = CACHE_CONTROL
    return {
        "gen": generation,
        "status": response.status_code,
        "body": body,
        "encodings": encodings,
        "headers": headers,
    }


# Revalidate every time: a write must be visible on the very next read.
CACHE_CONTROL = "max-age=0, must-revalidate, public"
_CONDITIONAL = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)


def _merge_vary(existing: str, more: list[str]) -> str:
    names = [v.strip() for v in existing.split(",") if v.strip()]
    lowered = {n.lower() for n in names}
    return ", ".join([*names, *(m for m in more if m.lower() not in lowered)])


def _accepted(request: HttpRequest) -> set[str]:
    header = request.META.get("HTTP_ACCEPT_ENCODING", "")
    accepted = set()
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        quality = params.replace(" ", "").removeprefix("q=")
        try:
            if params and float(quality) <= 0:
                continue  # "gzip;q=0": explicitly refused
        except ValueError:
            continue
        accepted.add(coding.strip().lower())
    return accepted


def thaw(entry: Entry, request: HttpRequest | None = None) -> HttpResponse:
    """The stored response, in the best encoding the client accepts."""
    body, coding = entry["body"], None
    encodings = entry.get("encodings") or {}
    if request is not None and encodings:
        accepted = _accepted(request)
        coding = next((c for c in ("br", "gzip") if c in accepted), None)
        if coding:
            body = encodings[coding]
    headers = dict(entry["headers"])
    if coding:
        headers["Content-Encoding"] = coding
    headers["Content-Length"] = str(len(body))
    return HttpResponse(body, status=entry["status"], headers=headers)


def finish(
    request: HttpRequest, response: HttpResponse, key: str, generation: int, hit: bool
) -> HttpResponse:
    """ETag and ``X-Cache``; a 304 where the ETag matches.

    ``response`` comes from ``thaw()`` (Vary and Cache-Control already set) or is an
    uncached non-200 straight from the view.
    """
    if response.status_code == 200 and generation >= 0:
        etag = etag_for(key, generation)
        # An encoded body is another representation: its ETag is weak, like the one
        # GZipMiddleware makes, and If-None-Match compares weakly either way.
        encoded = response.has_header("Content-Encoding")
        response["ETag"] = f"W/{etag}" if encoded else etag
        if any(header in request.META for header in _CONDITIONAL):
            conditional = get_conditional_response(
                request, etag=response["ETag"], response=response
            )
            assert conditional is not None  # given a response, it returns one
            response = conditional
    else:
        patch_vary_headers(response, ("Authorization",))
    response["X-Cache"] = "HIT" if hit else "MISS"
    return response


def _compute(
    request: HttpRequest | None,
    key: str,
    generation: int,
    render: Callable[[], HttpResponse],
) -> HttpResponse:
    """Render once per key and generation (stampede lock); store a 200 and serve it
    in the client's encoding, as a hit would (so GZipMiddleware has nothing to do)."""
    locked = False
    if generation >= 0 and breaker.cache_available():
        entry, locked = locks.wait_or_lock(
            key, generation=generation, fresh=lambda e: e.get("gen") == generation
        )
        if entry is not None:
            return thaw(entry, request)
    try:
        response = render()
        if response.status_code != 200 or generation < 0:
            return response  # nothing to store: GZipMiddleware compresses it once
        entry = freeze(response, generation)
        if locked:
            locks.store_and_release(key, entry, RESPONSE_TTL, generation=generation)
            locked = False
        else:
            with timed():
                cache.set(key, entry, RESPONSE_TTL)
        return thaw(entry, request)
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
    """Serve an anonymous GET from the cache, or render and store it.

    ``render()`` returns a rendered response. A matching ``If-None-Match`` (weakly
    compared, ``*`` included) is a 304 only where a 200 would have been served; with
    the cache unreachable there is no ETag (nothing could say when it went stale).
    The body is the stored encoding the client accepts (br, gzip, else identity), on
    a miss as on a hit: a miss compresses once, when it stores.
    """
    if bypassed(request):  # ?nocache=1 under DEBUG: run everything, store nothing
        response = render()
        patch_vary_headers(response, ("Authorization",))
        response["X-Cache"] = "BYPASS"
        return response
    key = response_key(request, namespace=namespace, variant=variant, params=params)
    found = getattr(request, "cache_lookup", None)
    if found is None or found.key != key:
        found = lookup(key)
    else:
        # The front door looked up before the request's read scope existed (the
        # replica middleware sits below it): require the generation again here, so a
        # fill for generation g reads only from a replica that replayed g.
        reading_at(found.generation)
    # The encoding the client accepts, except for the toolbar (identity bodies only).
    encode_for = None if toolbar_shown(request) else request
    if found.hit:
        assert found.entry is not None  # a hit has an entry
        response = thaw(found.entry, encode_for)
    else:
        response = _compute(encode_for, key, found.generation, render)
    return finish(request, response, key, found.generation, found.hit)
