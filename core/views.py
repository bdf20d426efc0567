"""The health check and the error handlers: JSON under ``/api/``, plain text elsewhere.

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

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

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
    checks = {
        "database": "ok" if _database_ok() else "down",
        "cache": "ok" if _cache_ok() else "down",
    }
    healthy = all(state == "ok" for state in checks.values())
    checks["broker"] = _broker_state()
    if monitor.aliases:
        checks["replicas"] = monitor.report()  # checked now, not the last tick
    return JsonResponse(checks, status=200 if healthy else 503)


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
