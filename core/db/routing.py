"""Where this unit of work may read: the per-request state the replica router honours.

A ``ReadScope`` lives in a context variable for one request
(``core.db.middleware.ReplicaMiddleware`` opens it). Outside a scope (management
commands, shells, migrations, Celery tasks that are not requests) the router sends
every read to the primary, so a command always reads what it just wrote.

Three things narrow where a scope may read:

- ``primary``: the request writes, or its client wrote moments ago (read-your-writes).
- ``min_version``: the request is about to fill a cache entry for generation ``g``
  (``require_version(g)``, called by the code that read the generation), so only a
  replica that has replayed version ``g`` of the database may serve it.
- ``alias``: the first replica chosen; later reads of the request stay on it, and if it
  stops qualifying they move to the primary (never to another replica that might be
  further behind), so one response never mixes two points in time going backwards.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS


@dataclass
class ReadScope:
    primary: bool = False
    min_version: int = 0
    alias: str | None = None
    # Replicas that failed under this scope (a connect or a query): the request is
    # answered again from the primary.
    failed: set[str] = field(default_factory=set)

    def use_primary(self) -> None:
        self.primary = True
        self.alias = DEFAULT_DB_ALIAS


_scope: contextvars.ContextVar[ReadScope | None] = contextvars.ContextVar(
    "read_scope", default=None
)


def current() -> ReadScope | None:
    return _scope.get()


@contextmanager
def read_scope(*, primary: bool = False) -> Iterator[ReadScope]:
    """Let the reads of this block go to a replica (unless ``primary``)."""
    with entered(ReadScope(primary=primary)) as scope:
        yield scope


@contextmanager
def entered(scope: ReadScope) -> Iterator[ReadScope]:
    """Re-enter an existing scope (a streamed response produced after its request)."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def require_version(version: int) -> None:
    """Reads from here on need a replica that has replayed ``version`` (or later).

    Called with the cache generation by whoever is about to key a cache entry with it:
    an entry for generation ``g`` rendered from a replica still at ``g - 1`` would hold
    old rows under the new generation until the next write.
    """
    scope = _scope.get()
    if scope is not None and version > scope.min_version:
        scope.min_version = version
