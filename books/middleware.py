"""Request hygiene and failure shaping, so that a client never sees a traceback.

- ``RequestIDMiddleware``: accept a sane ``X-Request-ID`` or make one, echo it, and put
  it on every log record of the request (see ``config.logs``).
- ``BadInputMiddleware``: NUL bytes anywhere PostgreSQL would choke on them are a 400,
  and bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` a 413 (as the API's own handler says
  for a body it finds too large while parsing), before any view runs.
- ``DatabaseUnavailableMiddleware``: ``OperationalError`` (server down, pool wait
  exhausted, statement timeout) is a fast 503, not a 500 or a hung worker.
- ``server_error``: the ``handler500``; JSON under ``/api/``, a plain page elsewhere.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.logs import request_id_var

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# Echoed into logs and headers, so only a short token of safe characters is accepted.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

try:  # raised by psycopg_pool when no connection frees up in time
    from psycopg_pool import PoolTimeout
except ImportError:  # pragma: no cover - SQLite-only installs
    PoolTimeout = OperationalError

DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(
    request: HttpRequest, status: int, detail: str, **headers: str
) -> HttpResponse:
    """JSON ``{"detail": ...}`` for API clients, a one-line text page for browsers."""
    if _is_api(request):
        response = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(
            f"{detail}\n", status=status, content_type="text/plain; charset=utf-8"
        )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


class RequestIDMiddleware:
    """Propagate ``X-Request-ID``: incoming if sane, generated otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = (
            incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _json_contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(
            _json_contains_nul(k) or _json_contains_nul(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_json_contains_nul(v) for v in value)
    return False


TOO_LARGE = "Request body too large."


class BadInputMiddleware:
    """400 for NUL bytes in path, query or body; 413 for oversized bodies.

    PostgreSQL text cannot hold NUL: psycopg raises ``ValueError`` deep inside a view,
    which would otherwise be a 500. The body is read (and so size-checked by Django)
    only for JSON and urlencoded forms; multipart is left to Django's own limits.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = self.problem(request)
        if problem == TOO_LARGE:
            return error_response(request, 413, problem)
        if problem:
            return error_response(request, 400, problem)
        return self.get_response(request)

    def problem(self, request: HttpRequest) -> str | None:
        if "\x00" in request.path:
            return "NUL bytes are not allowed in the path."
        if any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return "NUL bytes are not allowed in the query string."
        content_type = request.content_type or ""
        if content_type.startswith("multipart/"):
            return None
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return "Invalid Content-Length."
        if limit is not None and length > limit:
            return TOO_LARGE
        if length == 0:
            return None
        is_json = content_type == "application/json" or content_type.endswith("+json")
        is_form = content_type == "application/x-www-form-urlencoded"
        if not (is_json or is_form):
            return None
        try:
            body = request.body
        except RequestDataTooBig:
            return TOO_LARGE
        if b"\x00" in body:
            return "NUL bytes are not allowed in the request body."
        if is_form and b"%00" in body:
            return "NUL bytes are not allowed in the request body."
        if is_json and b"\\u0000" in body:
            # Cheap byte test first; parse only when an escaped NUL may be present.
            try:
                if _json_contains_nul(json.loads(body)):
                    return "NUL bytes are not allowed in the request body."
            except ValueError:
                return None  # malformed JSON: the parser's own 400 says so
        return None


class DatabaseUnavailableMiddleware:
    """Turn a database outage into ``503 {"detail": "database unavailable"}``.

    The pool wait and statement timeouts (settings) bound how long this takes, well
    inside gunicorn's worker timeout, so no worker is killed mid-request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None


def database_unavailable(
    request: HttpRequest, exception: BaseException
) -> JsonResponse:
    logger.warning(
        "database unavailable: %s: %s",
        type(exception).__name__,
        str(exception).strip().splitlines()[0] if str(exception).strip() else "",
    )
    response = JsonResponse({"detail": "database unavailable"}, status=503)
    response["Retry-After"] = "5"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: never a traceback; a database outage is still a 503.

    Django calls this inside its ``except`` block, so ``sys.exc_info()`` is the error
    even when it came from a middleware (a session save, say) rather than a view.
    """
    exception = sys.exc_info()[1]
    if isinstance(exception, DATABASE_ERRORS):
        return database_unavailable(request, exception)
    return error_response(request, 500, "Internal server error.")
