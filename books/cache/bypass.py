"""``?nocache=1`` under DEBUG: see what a page really runs.

A page served from the response cache runs no SQL, and a fragment hit hides the
queries of what it renders, so the debug toolbar's SQL panel shows little on a warm
page. With DEBUG on, ``?nocache=1`` skips the response cache (``X-Cache: BYPASS``)
and the template fragments (a generation nothing is stored under, and a TTL of 0,
so nothing is stored either). Without DEBUG the parameter means nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

PARAM = "nocache"
GENERATION = "nocache"  # a fragment generation no entry carries


def bypassed(request: HttpRequest | None) -> bool:
    """Whether this request asks, under DEBUG, to skip every catalogue cache."""
    if not settings.DEBUG or request is None:
        return False
    return request.GET.get(PARAM, "") not in ("", "0", "false")


def toolbar_shown(request: HttpRequest) -> bool:
    """Under DEBUG the debug toolbar (below the front door) reports each page, cache
    hits included: those requests take the view's path, and get an identity body,
    as the toolbar injects itself into uncompressed HTML only. Who sees it is the
    toolbar's own rule (``SHOW_TOOLBAR_CALLBACK``)."""
    if not settings.DEBUG or "debug_toolbar" not in settings.INSTALLED_APPS:
        return False
    from debug_toolbar.middleware import show_toolbar_func_or_path

    return bool(show_toolbar_func_or_path()(request))
