"""Django's PostgreSQL backend with a connect breaker (``core.db.breaker``).

``ENGINE = "core.db.postgresql"`` (config/settings.py sets it for PostgreSQL URLs).
Only connecting is guarded: a request that already holds a connection runs as usual,
and a statement timeout is a slow query, not an outage, so it never opens the breaker.
"""

from __future__ import annotations

from django.db import OperationalError
from django.db.backends.postgresql import base

from core.db.breaker import breaker_for


class DatabaseWrapper(base.DatabaseWrapper):
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
        except OperationalError:
            breaker.failed()
            raise
        breaker.succeeded()
        return None
