"""Response caching for the tuned viewsets: ``books.cache.responses`` adapted to DRF.

Naive viewsets never use the mixin, so they are never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework.request import Request

from books.cache import responses
from core.http import SAFE_METHODS, is_anonymous_request


class CachedResponseMixin:
    """Serve anonymous JSON GETs (``list``, ``retrieve``, ...) from the shared cache.

    What is cached is the rendered body plus content headers, keyed by host, path,
    the query parameters the view reads (``cache_params``; others are ignored and so
    cannot multiply entries), negotiated media type and the catalogue generation. A
    request carrying any credential (``Authorization`` or a session cookie) is never
    served from or stored in the cache; the browsable API is not cached either (its
    HTML embeds a CSRF token). Every response varies on ``Authorization``.
    """

    # The query parameters the view reads; any others are left out of the cache key.
    cache_params: frozenset[str] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if self._is_cacheable(request):
            # The router bound the action to ``self.get``/``self.head``; wrap that
            # binding so it works whichever class in the MRO defines list/retrieve.
            method = request.method.lower()
            setattr(self, method, partial(self._serve_cached, getattr(self, method)))

    def _is_cacheable(self, request: Request) -> bool:
        return (
            request.method in SAFE_METHODS
            and is_anonymous_request(request._request)
            and request.accepted_renderer.format == "json"
        )

    def _serve_cached(
        self, handler: Callable[..., Any], request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        def render() -> HttpResponse:
            response = self.finalize_response(  # type: ignore[attr-defined]
                request, handler(request, *args, **kwargs), *args, **kwargs
            )
            return response.render()

        return responses.cached_response(
            request._request,
            render,
            namespace=f"api.{self.basename}.{self.action}",  # type: ignore[attr-defined]
            variant=request.accepted_media_type,
            params=self.cache_params,
        )

    def finalize_response(
        self, request: Request, response: HttpResponse, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        # Token-authenticated responses differ per token: no shared cache may mix them.
        patch_vary_headers(response, ("Authorization",))
        if not is_anonymous_request(request._request):
            patch_cache_control(response, private=True)
        return response
