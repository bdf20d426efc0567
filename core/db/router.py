"""Reads to a healthy replica, everything else to the primary.

Installed (``DATABASE_ROUTERS``) only when ``DATABASE_REPLICA_URLS`` is set. A read
goes to a replica only inside a request's read scope (``core.db.routing``), when the
request is not pinned to the primary (it writes, or its client wrote moments ago), no
transaction is open on the primary, and the monitor (``core.db.replicas``) says some
replica is healthy, fresh enough and, for a cache fill, has replayed the generation.
Otherwise the primary: it is always correct, only busier.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from core.db import routing
from core.db.replicas import monitor


class ReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        scope = routing.current()
        if (
            scope is None
            or scope.primary
            # Inside a transaction reads must see its own writes (and its locks).
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return DEFAULT_DB_ALIAS
        if scope.alias is None:
            scope.alias = monitor.choose(scope.min_version) or DEFAULT_DB_ALIAS
        elif scope.alias != DEFAULT_DB_ALIAS and not monitor.serves(
            scope.alias, scope.min_version
        ):
            # Never hop to another replica that may be further behind: the primary is
            # ahead of every replica, so the response only ever moves forward in time.
            scope.alias = DEFAULT_DB_ALIAS
        return scope.alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # Every alias is the same database, some of them a moment behind.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # Replicas replay the primary's schema changes; they cannot run their own.
        return db == DEFAULT_DB_ALIAS
