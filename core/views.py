"""The health check, the favicon, the DEBUG-only bench report, and the error handlers:
JSON under ``/api/``, plain text elsewhere.

``/healthz``: ``database`` and ``cache`` decide the status (503 when either is down, as
the contract says). ``broker`` is reported but never fails the check: a broker outage
only delays background work, and restarting the web container would not bring the
broker back. With no broker (eager Celery, the embedded default) it reads ``"eager"``.
With read replicas, ``replicas`` gives each one's state (``ok``, ``lagging``, ``down``)
and lag in seconds; a replica never fails the check: the primary serves its reads.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotFound,
    JsonResponse,
)
from django.http.response import HttpResponseBase
from django.templatetags.static import static
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView

from core.db.replicas import monitor
from core.http import error_response
from core.middleware import DATABASE_ERRORS, database_unavailable

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("healthz: database check failed")
        return False


def _cache_ok() -> bool:
    # django-redis swallows connection errors (IGNORE_EXCEPTIONS), so a round trip
    # through the raw client is the honest check when Redis is configured.
    try:
        client = getattr(cache, "client", None)
        if client is not None and hasattr(client, "get_client"):
            return bool(client.get_client(write=True).ping())
        cache.set("healthz", "ok", 5)
        return cache.get("healthz") == "ok"
    except Exception:
        logger.exception("healthz: cache check failed")
        return False


def _broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    from celery import current_app

    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=1)
        return "ok"
    except Exception:
        logger.warning("healthz: broker check failed", exc_info=True)
        return "down"


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and cache answer, 503 naming whatever is down."""
    checks: dict[str, Any] = {
        "database": "ok" if _database_ok() else "down",
        "cache": "ok" if _cache_ok() else "down",
    }
    healthy = all(state == "ok" for state in checks.values())
    checks["broker"] = _broker_state()
    if monitor.aliases:
        checks["replicas"] = monitor.report()  # checked now, not the last tick
    return JsonResponse(checks, status=200 if healthy else 503)


class FaviconView(RedirectView):
    """``/favicon.ico``, which browsers ask for whatever the page links: a redirect
    to the hashed static file (temporary: the hash changes with the icon)."""

    permanent = False

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        return static("favicon.ico")

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = super().get(request, *args, **kwargs)
        patch_cache_control(response, public=True, max_age=24 * 60 * 60)
        return response


class BenchReportView(View):
    """``/bench/`` under DEBUG: the HTML report at ``settings.BENCH_REPORT``, which
    ``make bench`` writes. A 404 without DEBUG: the report names code paths and
    timings, not for the public."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.DEBUG:
            raise Http404("The bench report is served under DEBUG only.")
        path = Path(settings.BENCH_REPORT)
        if not path.is_file():
            return HttpResponseNotFound(
                f"No bench report at {path} yet: run `make bench` (or "
                f"`manage.py bench --html {path.name}`), then reload.",
                content_type="text/plain; charset=utf-8",
            )
        response = FileResponse(path.open("rb"), content_type="text/html")
        add_never_cache_headers(response)
        return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON under ``/api/`` (unknown paths and ids alike)."""
    return error_response(request, 404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: never a traceback; a database outage is still a 503.

    Django calls this inside its ``except`` block, so ``sys.exc_info()`` is the error
    even when it came from a middleware (a session save, say) rather than a view.
    """
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_ERRORS):
        return database_unavailable(request, exception)
    return error_response(request, 500, "Internal server error.")
