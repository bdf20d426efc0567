"""Logging plumbing: the current request id and a one-line JSON formatter.

No Django imports, so gunicorn's own log configuration can use the formatter too.
``books.middleware.RequestIDMiddleware`` sets the request id for each request.
"""

import contextvars
import json
import logging
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)

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
