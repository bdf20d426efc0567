"""Django's PostgreSQL backend with a connect breaker and a cheaper pool check.

``ENGINE = "core.db.postgresql"`` (config/settings.py sets it for PostgreSQL URLs).

- **Breaker** (``core.db.breaker``): only connecting is guarded; a request that already
  holds a connection runs as usual, and a statement timeout is a slow query, not an
  outage, so it never opens the breaker.
- **Replicas**: on a read replica a failed connect or query also takes the replica
  out of the rotation at once (``core.db.replicas.replica_failed``), so the request
  can be answered again from the primary and the next ones avoid the replica.
- **Pool check**: with ``CONN_HEALTH_CHECKS`` Django has psycopg's pool test every
  checkout with a round trip, one more per request. Here a connection is tested only
  when it sat idle in the pool for ``IDLE_CHECK_SECONDS``: a connection in steady use
  is known good, and one that broke while busy is discarded when it comes back.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base
from psycopg.errors import QueryCanceled

from core.db import replicas
from core.db.breaker import breaker_for

IDLE_CHECK_SECONDS = 2.0

_returned_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _stamp_return(conn: Any) -> None:
    """The pool's ``reset`` callback: remember when the connection came back."""
    with _lock:
        _returned_at[conn] = time.monotonic()


def _check(conn: Any) -> None:
    """The pool's ``check`` callback: a round trip only after an idle spell."""
    with _lock:
        returned = _returned_at.get(conn, 0.0)
    if time.monotonic() - returned > IDLE_CHECK_SECONDS:
        conn.execute("")  # what psycopg_pool's own check_connection does


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if replicas.is_replica(self.alias):
            self.execute_wrappers.append(_report_replica_errors)

    @property
    def pool(self) -> Any:
        pool = super().pool  # type: ignore[misc]  # stubs lack Django 5.1's pool
        # Django hands psycopg_pool its check_connection when CONN_HEALTH_CHECKS is
        # on and takes no other: swap in the idle-only check (psycopg_pool keeps its
        # callbacks as _check and _reset; pinned in requirements.txt).
        if pool is not None and pool._check is not None and pool._check is not _check:
            pool._check, pool._reset = _check, _stamp_return
        return pool

    def ensure_connection(self) -> None:
        if self.connection is not None:
            return super().ensure_connection()
        breaker = breaker_for(self.alias)
        if not breaker.allow():
            raise OperationalError(
                f"database {self.alias!r} unavailable (breaker open, retrying soon)"
            )
        try:
            super().ensure_connection()
        except OperationalError as exc:
            breaker.failed()
            replicas.replica_failed(self.alias, exc)
            raise
        breaker.succeeded()
        return None


def _report_replica_errors(execute, sql, params, many, context):
    try:
        return execute(sql, params, many, context)
    except (OperationalError, InterfaceError) as exc:
        # A statement timeout is a slow query, and would be as slow on the primary.
        if not isinstance(exc.__cause__, QueryCanceled):
            replicas.replica_failed(context["connection"].alias, exc)
        raise
