"""Response caching for the tuned viewsets, and the Server-Timing header.

Keys, TTLs, generations and the stampede lock live in ``books.cache``; this module only
adapts them to DRF. Naive viewsets never use the mixin, so they are never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework.request import Request

from books import cache

SAFE = ("GET", "HEAD")


class CachedResponseMixin:
    """Serve anonymous JSON GETs (``list``, ``retrieve``, ...) from the shared cache.

    What is cached is the rendered body plus content headers, keyed by host, path,
    sorted query string, negotiated media type and the catalogue generation. A request
    carrying any credential (``Authorization`` or a session cookie) is never served
    from or stored in the cache; the browsable API is not cached either (its HTML
    embeds a CSRF token). Every response varies on ``Authorization``.
    """

    # None: every action's GET (list, retrieve, and read actions such as a book's
    # reviews). Everything the tuned viewsets read is catalogue data, which is what
    # the generation covers.
    cached_actions: frozenset[str] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # auth, permissions, negotiation
        if self._is_cacheable(request):
            # The router bound the action to ``self.get``/``self.head``; wrap that
            # binding so it works whichever class in the MRO defines list/retrieve.
            method = request.method.lower()
            setattr(self, method, partial(self._serve_cached, getattr(self, method)))

    def _is_cacheable(self, request: Request) -> bool:
        return (
            request.method in SAFE
            and (self.cached_actions is None or self.action in self.cached_actions)
            and cache.is_anonymous_request(request._request)
            and request.accepted_renderer.format == "json"
        )

    def _serve_cached(
        self, handler: Callable[..., Any], request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        def render() -> HttpResponse:
            response = self.finalize_response(
                request, handler(request, *args, **kwargs), *args, **kwargs
            )
            return response.render()

        return cache.cached_response(
            request._request,
            render,
            namespace=f"api.{self.basename}.{self.action}",
            variant=request.accepted_media_type,
        )

    def finalize_response(
        self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Token-authenticated responses differ per token: no shared cache may mix them.
        patch_vary_headers(response, ("Authorization",))
        if not cache.is_anonymous_request(request._request):
            patch_cache_control(response, private=True)
        return response


class CacheStatusMiddleware:
    """``X-Cache: MISS`` on every anonymous API GET the response cache did not serve.

    The contract promises the header on all of them: errors, the naive twins, the
    schema and the API root are never served from the cache, so they say MISS.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method in SAFE
            and request.path.startswith("/api/")
            and cache.is_anonymous_request(request)
        ):
            response.headers.setdefault("X-Cache", "MISS")
        return response


class ServerTimingMiddleware:
    """Add ``Server-Timing: db, cache, total`` to every dynamic response.

    Sits right after WhiteNoise (static files need no timing) and before GZip, so the
    total includes compression. Database time comes from an execute wrapper on each
    connection, cache time from the helpers in ``books.cache``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        db = _DatabaseTimer()
        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(db))
            timing = stack.enter_context(cache.measure_cache_time())
            response = self.get_response(request)
        total = time.perf_counter() - start
        response["Server-Timing"] = ", ".join(
            (
                f'db;dur={db.seconds * 1000:.2f};desc="{db.queries} queries"',
                f'cache;dur={timing.seconds * 1000:.2f};desc="{timing.calls} calls"',
                f"total;dur={total * 1000:.2f}",
            )
        )
        return response


class _DatabaseTimer:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.queries += 1
