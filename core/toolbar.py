"""A debug-toolbar panel that says whether the page came from the response cache.

Loaded only under DEBUG (``DEBUG_TOOLBAR_PANELS`` in config/settings.py). A page
served from the cache runs no SQL, so an empty SQL panel is the cache working, not
a page without queries; this panel says which it was and how to see the queries.
"""

from __future__ import annotations

from urllib.parse import urlencode

from debug_toolbar.panels import Panel
from django.http import HttpRequest, HttpResponse

from core.http import is_anonymous_request

NOCACHE = "nocache"  # books.cache.bypass.PARAM; core never imports books


def bypass_url(request: HttpRequest) -> str:
    """This page again with ``?nocache=1`` added to its query."""
    query = [(k, v) for k, v in request.GET.items() if k != NOCACHE]
    return f"{request.path}?{urlencode([*query, (NOCACHE, '1')])}"


class ResponseCachePanel(Panel):
    """X-Cache HIT / MISS / BYPASS, what it means for the other panels, and the
    link that bypasses the caches."""

    title = "Response cache"
    template = "core/toolbar/response_cache.html"

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        return stats.get("x_cache") or "not cached"

    def generate_stats(self, request: HttpRequest, response: HttpResponse) -> None:
        self.record_stats(
            {
                "x_cache": response.get("X-Cache"),
                "etag": response.get("ETag"),
                "anonymous": is_anonymous_request(request),
                "bypass_url": bypass_url(request),
                "param": NOCACHE,
            }
        )
