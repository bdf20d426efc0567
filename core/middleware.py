"""Request hygiene, failure shaping and timing, so that a client never sees a traceback.

- ``RequestIDMiddleware``: accept a sane ``X-Request-ID`` or make one, echo it, and put
  it on every log record of the request (see ``core.logs``).
- ``BadInputMiddleware``: NUL bytes, lone surrogates, JSON nested too deeply or with
  huge arrays are a 400, bodies over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` a 413, before any
  view runs.
- ``DatabaseUnavailableMiddleware``: ``OperationalError`` (server down, pool wait
  exhausted, statement timeout) is a fast 503, not a 500 or a hung worker.
- ``ServerTimingMiddleware``: ``Server-Timing: db, cache, total`` on every response.
- ``CacheStatusMiddleware``: ``X-Cache: MISS`` on anonymous API GETs no cache served.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.http import SAFE_METHODS, error_response, is_anonymous_request, is_api
from core.logs import request_id_var
from core.timing import measure_cache_time

logger = logging.getLogger(__name__)

GetResponse = Callable[[HttpRequest], HttpResponse]

REQUEST_ID_HEADER = "X-Request-ID"
# Echoed into logs and headers, so only a short token of safe characters is accepted.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")

DATABASE_ERRORS: tuple[type[BaseException], ...]
try:  # raised by psycopg_pool when no connection frees up in time
    from psycopg_pool import PoolTimeout
except ImportError:  # pragma: no cover - SQLite-only installs
    DATABASE_ERRORS = (OperationalError, InterfaceError)
else:
    DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


class RequestIDMiddleware:
    """Propagate ``X-Request-ID``: incoming if sane, generated otherwise."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = (
            incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        )
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


# --- Hostile input --------------------------------------------------------------------

TOO_LARGE = "Request body too large."
# A catalogue write is a flat object with one short list (genres): these bounds leave
# room for any real client and stop the parser-recursion and huge-array attacks.
MAX_JSON_DEPTH = 20
MAX_JSON_ARRAY = 1000


class BadInput(Exception):
    """A request the middleware refuses; ``status`` is 400 or 413."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def _has_bad_text(text: str) -> bool:
    """NUL (PostgreSQL text cannot hold it) or a lone surrogate (not encodable)."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json(value: Any) -> None:
    """Walk a parsed JSON document iteratively: bounded depth and arrays, clean text."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(node, str):
            if _has_bad_text(node):
                raise BadInput("NUL bytes or lone surrogates in the request body.")
        elif isinstance(node, dict):
            for key, item in node.items():
                stack.append((key, depth))
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            if len(node) > MAX_JSON_ARRAY:
                raise BadInput(f"JSON arrays hold at most {MAX_JSON_ARRAY} items.")
            stack.extend((item, depth + 1) for item in node)


def _check_query(request: HttpRequest) -> None:
    if "\x00" in request.path:
        raise BadInput("NUL bytes are not allowed in the path.")
    for key, values in request.GET.lists():
        if _has_bad_text(key) or any(_has_bad_text(value) for value in values):
            raise BadInput("NUL bytes are not allowed in the query string.")


def _declared_length(request: HttpRequest) -> int:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadInput("Invalid Content-Length.") from None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and length > limit:
        raise BadInput(TOO_LARGE, 413)
    return length


def _read_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise BadInput(TOO_LARGE, 413) from None


def _check_body(request: HttpRequest) -> None:
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        return  # Django's own upload limits apply
    if _declared_length(request) == 0:
        return
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if is_json:
        try:
            document = orjson.loads(_read_body(request))
        except orjson.JSONDecodeError as exc:
            # orjson is strict: invalid UTF-8, lone surrogates, nesting past 1,024.
            raise BadInput(f"Malformed JSON: {exc}") from None
        check_json(document)
    elif content_type == "application/x-www-form-urlencoded":
        body = _read_body(request)
        if b"\x00" in body or b"%00" in body:
            raise BadInput("NUL bytes are not allowed in the request body.")


class BadInputMiddleware:
    """400 for input PostgreSQL or the parsers would choke on; 413 for huge bodies.

    PostgreSQL text cannot hold NUL: psycopg raises ``ValueError`` deep inside a view,
    which would otherwise be a 500; the stdlib JSON parser recurses once per nesting
    level. JSON bodies are parsed here once with orjson (fast, strict) and walked
    without recursion; multipart is left to Django's own limits.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            _check_query(request)
            _check_body(request)
        except BadInput as bad:
            return error_response(request, bad.status, bad.detail)
        return self.get_response(request)


# --- Outages --------------------------------------------------------------------------


class DatabaseUnavailableMiddleware:
    """Turn a database outage into ``503 {"detail": "database unavailable"}``.

    The pool wait and statement timeouts (settings) bound how long this takes, well
    inside gunicorn's worker timeout, so no worker is killed mid-request.
    """

    def __init__(self, get_response: GetResponse) -> None:
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
) -> HttpResponse:
    text = str(exception).strip()
    logger.warning(
        "database unavailable: %s: %s",
        type(exception).__name__,
        text.splitlines()[0] if text else "",
    )
    response = JsonResponse({"detail": "database unavailable"}, status=503)
    response["Retry-After"] = "5"
    return response


# --- Headers --------------------------------------------------------------------------


class CacheStatusMiddleware:
    """``X-Cache: MISS`` on every anonymous API GET the response cache did not serve.

    The contract promises the header on all of them: errors, the naive twins, the
    schema and the API root are never served from the cache, so they say MISS.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method in SAFE_METHODS
            and is_api(request)
            and is_anonymous_request(request)
        ):
            response.headers.setdefault("X-Cache", "MISS")
        return response


class ServerTimingMiddleware:
    """Add ``Server-Timing: db, cache, total`` to every dynamic response.

    Sits right after WhiteNoise (static files need no timing) and before GZip, so the
    total includes compression. Database time comes from an execute wrapper on each
    connection, cache time from ``core.timing.timed()`` blocks.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        db = _DatabaseTimer()
        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(db))
            timing = stack.enter_context(measure_cache_time())
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
