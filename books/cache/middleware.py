"""The front door: anonymous cache hits answered before the rest of the stack runs.

Sits near the top of MIDDLEWARE (after request ids, security headers, hostile-input
checks, WhiteNoise and the timing header; before sessions, authentication, CSRF, GZip
and the views). For an anonymous GET or HEAD of a route whose view declares a cache
policy it computes the view's cache key, reads the generation and the entry in one
cache round trip, and on a hit returns the stored response in the client's encoding:
no session, no token lookup, no DRF, no throttle, no compression. With Redis, the
hottest entries are also kept in process (``books.cache.local``, the L1), answered with
no round trip; ``X-Cache-Layer: local|redis`` says which. On a miss it hands its
lookup to the view, which renders and stores (``responses.cached_response``).

Throttling: a hit costs one cache read, less than a throttle check (two), so hits are
not throttled; misses, which reach the database, keep DRF's throttles. A flood of hits
is the proxy's to rate-limit (e.g. nginx ``limit_req``), as it is for static files.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.urls import (
    Resolver404,
    ResolverMatch,
    URLResolver,
    get_resolver,
    get_urlconf,
)

from books.cache import local as local_cache
from books.cache import responses
from books.cache.bypass import bypassed, toolbar_shown
from books.cache.keys import response_key
from core.http import SAFE_METHODS, is_anonymous_request


@dataclass(frozen=True)
class CachePolicy:
    """How a view keys its cached responses; views expose it as
    ``cache_policy(match, request)`` (a classmethod), None when not cacheable."""

    namespace: str
    params: Collection[str] | None = None
    variant: str = ""


PolicyFor = Callable[[ResolverMatch, HttpRequest], CachePolicy | None]


@lru_cache(maxsize=8192)
def _resolve(resolver: URLResolver, path: str) -> ResolverMatch | None:
    """URL resolution, remembered per resolver and path: the front door resolves
    before Django does, and a hit should not pay for walking the URLconf."""
    try:
        return resolver.resolve(path)
    except Resolver404:
        return None


def _policy(request: HttpRequest) -> CachePolicy | None:
    match = _resolve(get_resolver(get_urlconf()), request.path_info)
    if match is None:
        return None
    view = getattr(match.func, "cls", None) or getattr(match.func, "view_class", None)
    policy_for: PolicyFor | None = getattr(view, "cache_policy", None)
    return policy_for(match, request) if policy_for else None


class FrontDoorCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in SAFE_METHODS
            or not is_anonymous_request(request)
            or bypassed(request)  # ?nocache=1 under DEBUG: the view shows its SQL
            or toolbar_shown(request)  # the toolbar sits below: let it see the hit
        ):
            return self.get_response(request)
        policy = _policy(request)
        if policy is None:
            return self.get_response(request)
        key = response_key(
            request,
            namespace=policy.namespace,
            variant=policy.variant,
            params=policy.params,
        )
        if local_cache.seconds():
            generation = local_cache.local.current_generation(local_cache.now())
            entry = (
                None if generation is None else local_cache.local.get(key, generation)
            )
            if generation is not None and entry is not None:  # L1: no round trip
                response = responses.thaw(entry, request)
                response["X-Cache-Layer"] = "local"
                return responses.finish(request, response, key, generation, hit=True)
        found = responses.lookup(key)
        if not found.hit:
            request.cache_lookup = found  # type: ignore[attr-defined]
            return self.get_response(request)
        assert found.entry is not None  # a hit has an entry
        if local_cache.seconds():
            local_cache.local.put(key, found.entry)
        response = responses.thaw(found.entry, request)
        response["X-Cache-Layer"] = "redis"
        return responses.finish(request, response, key, found.generation, hit=True)
