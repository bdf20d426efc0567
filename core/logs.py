"""Logging plumbing: the current request id, a one-line JSON formatter, a rate limit.

No Django imports, so gunicorn's own log configuration can use the formatter too.
``core.middleware.RequestIDMiddleware`` sets the request id for each request.
"""

import contextvars
import json
import logging
import threading
import time
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)
# The route name of the request being served ("api:book-list"), set by
# core.metrics.MetricsMiddleware: slow-query lines and metrics say which view.
view_var: contextvars.ContextVar[str] = contextvars.ContextVar("view", default="-")

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "request_id",
}


class RequestIDFilter(logging.Filter):
    """Stamp ``record.request_id`` so every line of one request can be joined up."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id(record)
        return True


def _request_id(record: logging.LogRecord) -> str:
    # django.request logs 4xx/5xx after the middleware chain has returned, but passes
    # the request along; gunicorn's access log passes the response headers as args.
    request = getattr(record, "request", None)
    if request is not None and hasattr(request, "request_id"):
        return request.request_id
    if record.name == "gunicorn.access" and isinstance(record.args, dict):
        return record.args.get("{x-request-id}o") or "-"
    return request_id_var.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id(record),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            atoms = record.args
            payload.update(
                remote=atoms.get("h"),
                request=atoms.get("r"),
                status=atoms.get("s"),
                bytes=atoms.get("B"),
                duration_ms=atoms.get("M"),
            )
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RateLimitFilter(logging.Filter):
    """Let one record per ``interval`` seconds through; count the rest.

    django-redis logs every swallowed connection error; during an outage that is one
    traceback per cache call. This keeps one line per interval, saying how many more
    were suppressed.
    """

    def __init__(self, interval: float = 60.0) -> None:
        super().__init__()
        self.interval = interval
        self._next = 0.0
        self._suppressed = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return False
            self._next = now + self.interval
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} similar suppressed)"
        return True
