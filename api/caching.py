"""Response caching for the tuned viewsets: ``books.cache.responses`` adapted to DRF.

Naive viewsets never use the mixin, so they are never cached.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework.request import Request
from rest_framework.response import Response

from api.renderers import ORJSONRenderer
from books.cache import responses
from books.cache.middleware import CachePolicy
from core.http import SAFE_METHODS, is_anonymous_request

JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})

if TYPE_CHECKING:
    from rest_framework.viewsets import GenericViewSet

    _ViewSet = GenericViewSet  # what the mixin is mixed into
else:
    _ViewSet = object


class CachedResponseMixin(_ViewSet):
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

    @classmethod
    def cache_policy(
        cls, match: ResolverMatch, request: HttpRequest
    ) -> CachePolicy | None:
        """The key ``_serve_cached`` will use, computed before DRF runs, so that the
        front door (``books.cache.middleware``) can answer a hit by itself.

        Only the plain JSON negotiation is predicted (no Accept, ``*/*`` or
        ``application/json``, no ``?format=``); anything else takes the view path,
        which caches and serves it as before.
        """
        action = getattr(match.func, "actions", {}).get("get")
        basename = getattr(match.func, "initkwargs", {}).get("basename")
        accept = request.META.get("HTTP_ACCEPT", "")
        if not action or not basename or "format" in request.GET:
            return None
        if accept not in JSON_ACCEPTS:
            return None
        return CachePolicy(
            namespace=f"api.{basename}.{action}",
            params=cls.cache_params,
            variant=ORJSONRenderer.media_type,
        )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self._is_cacheable(request):
            assert request.method is not None  # a safe method, say _is_cacheable
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
            response = self.finalize_response(
                request, handler(request, *args, **kwargs), *args, **kwargs
            )
            return response.render()

        return responses.cached_response(
            request._request,
            render,
            namespace=f"api.{self.basename}.{self.action}",
            variant=request.accepted_media_type,
            params=self.cache_params,
        )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        # Token-authenticated responses differ per token: no shared cache may mix them.
        patch_vary_headers(response, ("Authorization",))
        if not is_anonymous_request(request._request):
            patch_cache_control(response, private=True)
        return response
