"""One execute wrapper on every connection: queries counted, slow ones logged.

``core.apps.CoreConfig.ready()`` installs it through ``connection_created``, so every
connection of every alias carries it for its whole life, whoever opened it (a view,
a Celery task, the catalogue sync thread). Per statement it costs two clock reads.

- **Counting**: inside a ``tally_queries()`` scope (``core.metrics.MetricsMiddleware``
  opens one per request) each statement adds to the scope's count and time: the
  queries-per-request histogram.
- **Slow queries**: a statement that takes ``SLOW_QUERY_MS`` (setting, env, default
  200) or more is logged to ``core.db.slow`` as one line with its duration, its
  fingerprint (literals and parameters stripped: never user data), the database
  alias, the view (``core.logs.view_var``) and, through the log filter, the request
  id. Set ``SLOW_QUERY_MS`` below 0 to turn it off.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from core.logs import request_id_var, view_var

logger = logging.getLogger("core.db.slow")

DEFAULT_SLOW_QUERY_MS = 200.0


@dataclass
class QueryTally:
    count: int = 0
    seconds: float = 0.0
    slow: int = 0


_tally: contextvars.ContextVar[QueryTally | None] = contextvars.ContextVar(
    "query_tally", default=None
)


@contextmanager
def tally_queries() -> Iterator[QueryTally]:
    """Count the statements run inside this scope (and the threads it hands work
    to: ``sync_to_async`` copies the context)."""
    tally = QueryTally()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


# --- Fingerprints ---------------------------------------------------------------------

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w\"])-?\d+(?:\.\d+)?(?![\w\"])")
_PLACEHOLDER = re.compile(r"%s|\?|\$\d+")
_CAST = re.compile(r"\?::[\w ]+(?:\([\d, ]+\))?")  # ?::numeric(8, 2) is a value
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_ROWS = re.compile(r"\(\.\.\.\)(?:\s*,\s*\(\.\.\.\))+")
_SPACE = re.compile(r"\s+")


def fingerprint(sql: str) -> str:
    """``sql`` with every literal and parameter as ``?`` and every list of them as
    ``(...)``: the 20 lookups of an N+1, or ``IN`` lists of any length, share one."""
    text = _STRING.sub("?", sql)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _CAST.sub("?", text)
    text = _LIST.sub("(...)", text)
    text = _ROWS.sub("(...)", text)  # VALUES (...), (...), ... rows
    return _SPACE.sub(" ", text).strip()


# --- The wrapper ----------------------------------------------------------------------


def _threshold_ms() -> float:
    return float(getattr(settings, "SLOW_QUERY_MS", DEFAULT_SLOW_QUERY_MS))


def _log_slow(sql: str, elapsed: float, many: bool, context: dict[str, Any]) -> None:
    connection = context.get("connection")
    alias = getattr(connection, "alias", "?")
    duration_ms = round(elapsed * 1000, 1)
    view = view_var.get()
    logger.warning(
        "slow query: %.1f ms on %s in %s",
        duration_ms,
        alias,
        view,
        extra={
            "request_id": request_id_var.get(),  # now, not when a handler formats it
            "duration_ms": duration_ms,
            "fingerprint": fingerprint(sql),
            "database": alias,
            "view": view,
            "many": many,
        },
    )


def instrument(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed = time.perf_counter() - started
        tally = _tally.get()
        if tally is not None:
            tally.count += 1
            tally.seconds += elapsed
        threshold = _threshold_ms()
        if threshold >= 0 and elapsed * 1000 >= threshold:
            if tally is not None:
                tally.slow += 1
            _log_slow(sql, elapsed, many, context)


def watch_connection(connection: Any, **_: Any) -> None:
    """``connection_created`` receiver: instrument this connection, once.

    Inserted first, never appended: a pooled connection is "created" again inside
    requests, within ``connection.execute_wrapper()`` blocks (Server-Timing's), and
    those pop the *last* wrapper on exit. Appended, this one would be popped in their
    place and theirs left behind, one more per request.
    """
    if instrument not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, instrument)
