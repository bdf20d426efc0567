"""Django's PostgreSQL backend with a connect breaker (``core.db.breaker``).

``ENGINE = "core.db.postgresql"`` (config/settings.py sets it for PostgreSQL URLs).
Only connecting is guarded: a request that already holds a connection runs as usual,
and a statement timeout is a slow query, not an outage, so it never opens the breaker.

On a read replica a failed connect or query also takes the replica out of the rotation
at once (``core.db.replicas.replica_failed``), so the request can be answered again
from the primary and the next ones avoid the replica.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql import base
from psycopg.errors import QueryCanceled

from core.db import replicas
from core.db.breaker import breaker_for


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if replicas.is_replica(self.alias):
            self.execute_wrappers.append(_report_replica_errors)

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


def _report_replica_errors(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    try:
        return execute(sql, params, many, context)
    except (OperationalError, InterfaceError) as exc:
        # A statement timeout is a slow query, and would be as slow on the primary.
        if not isinstance(exc.__cause__, QueryCanceled):
            replicas.replica_failed(context["connection"].alias, exc)
        raise
