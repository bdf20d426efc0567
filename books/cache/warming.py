"""Filling and emptying the catalogue's cache as a whole.

``warm_hot_keys()`` renders the hottest pages through the full request stack after a
write (``books.tasks.warm_hot_cache``); ``clear()`` empties it (``bench`` cold runs).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.test import Client

from books.cache import freshness
from books.cache.local import local
from core.http import INTERNAL_REQUEST

# The pages and endpoints every visitor hits first.
HOT_PATHS = ("/", "/api/books/", "/api/authors/", "/api/genres/")


def warm_hot_keys(paths: tuple[str, ...] = HOT_PATHS) -> dict[str, str]:
    """Render the hottest pages and endpoints so the next visitor gets a HIT.

    Goes through the full request stack (the same code path as a visitor), which is
    the only way to fill the response cache with exactly what a visitor would get.
    Returns ``{path: "HIT" | "MISS" | "<status>"}``: a non-200 is reported as such.
    """
    # Keys carry scheme and host, so warm the ones visitors use: the first allowed
    # host, over HTTPS when the site is served over HTTPS (else the SSL redirect).
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if h not in ("*", "")]
    # The internal mark is a WSGI environ key no HTTP header can set: throttles skip it.
    environ: dict[str, Any] = {INTERNAL_REQUEST: True}
    client = Client(HTTP_HOST=hosts[0] if hosts else "localhost", **environ)
    secure = getattr(settings, "SECURE_HTTPS", False) or settings.SECURE_SSL_REDIRECT
    results = {}
    for path in paths:
        response = client.get(path, secure=secure)
        if response.status_code == 200:
            results[path] = response.headers.get("X-Cache", "MISS")
        else:
            results[path] = str(response.status_code)
    return results


def clear() -> None:
    """Empty every cached entry of this project, then publish the generation again.

    Local memory is cleared outright. On Redis only keys under this project's prefix
    are deleted (never FLUSHDB: the database may be shared).
    """
    client: Any = getattr(cache, "client", None)  # django-redis's, if configured
    if hasattr(client, "get_client"):
        raw = client.get_client(write=True)
        keys = list(raw.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            raw.delete(*keys[start : start + 1000])
    else:
        cache.clear()
    local.clear()
    freshness.publish_current()
