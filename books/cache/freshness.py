"""Freshness decided by the database: the catalogue version and its publication.

The database keeps one number, ``books_catalogueversion.version``. Triggers bump it
inside every transaction that writes a catalogue table (statement-level on PostgreSQL,
row-level on SQLite, which has no other kind), whatever sent the SQL: the ORM,
``update()``, bulk calls, raw SQL, ``seed``'s COPY, a data migration or a ``psql``
session. The cache generation is that number, published to the cache:

1. **At once, by the writer.** An execute wrapper on every connection notices
   statements that write a catalogue table; after the transaction commits (or right
   away in autocommit) it reads the version and publishes it: one publish per
   transaction, however many rows or statements it wrote.
2. **Within ``CATALOGUE_SYNC_SECONDS``, by everyone.** Each serving process runs a
   daemon thread that re-reads the version that often and publishes it when the cache
   is behind. Writes from outside Django, and publishes lost to a stalled Redis or a
   dead worker, converge within that bound; nothing is remembered in a process.

Publishing only moves the generation forward. If the cache is ever ahead of the
database (a database restored from a backup), the sync moves the database's version
past it instead, so a version number never names two different catalogues.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.dispatch import Signal
from django.http import HttpRequest

from books.cache import breaker
from books.cache.bypass import GENERATION as BYPASS_GENERATION
from books.cache.bypass import bypassed
from books.cache.keys import CATALOGUE, FRAGMENT_TTL, generation_key
from books.cache.local import local, now
from core.db import routing
from core.logs import RateLimitFilter
from core.timing import timed

logger = logging.getLogger(__name__)
logger.addFilter(RateLimitFilter(interval=30.0))

VERSION_TABLE = "books_catalogueversion"
VERSION_SQL = f"SELECT version FROM {VERSION_TABLE} WHERE id = 1"
# Every table whose rows appear in a cached page or response.
CATALOGUE_TABLES = frozenset(
    {
        "books_author",
        "books_book",
        "books_book_genres",
        "books_genre",
        "books_publisher",
        "books_review",
    }
)

# Sent once a publish moved the generation forward (``books.tasks`` warms on it).
catalogue_published = Signal()

_WRITE = re.compile(
    r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"?(\w+)',
    re.IGNORECASE,
)
_WRITE_START = frozenset("IUDTiudt")


def writes_catalogue(sql: str) -> bool:
    """Whether a statement writes a catalogue table (a cheap test, run on every one)."""
    head = sql.lstrip()[:1]
    if head not in _WRITE_START:
        return False
    match = _WRITE.match(sql)
    return match is not None and match.group(1).lower() in CATALOGUE_TABLES


# --- The database's version -----------------------------------------------------------


def read_version(using: str = "default") -> int:
    """The committed catalogue version: one primary-key lookup.

    The row is made by migration 0003; should something have deleted it (a test
    database flush), it is made again, starting from the clock.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(VERSION_SQL)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(
                f"INSERT INTO {VERSION_TABLE} (id, version) VALUES (1, %s) "
                "ON CONFLICT (id) DO NOTHING",
                [time.time_ns() // 1000],
            )
            return read_version(using)
    return int(row[0])


def _raise_version(floor: int, using: str = "default") -> int:
    """Move the database's version past ``floor`` (the cache saw a later one)."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE {VERSION_TABLE} SET version = %s WHERE id = 1 AND version <= %s",
            [floor + 1, floor],
        )
    return read_version(using)


# --- Publishing -----------------------------------------------------------------------

_SET_IF_GREATER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
_local_lock = threading.Lock()


def _raw_redis() -> Any | None:
    client: Any = getattr(cache, "client", None)  # django-redis's, if configured
    return client.get_client(write=True) if hasattr(client, "get_client") else None


def publish(version: int) -> bool | None:
    """Move the cache's generation forward to ``version``.

    True if it moved, False if the cache already had it or a later one, None if the
    cache is unreachable (the sync publishes it once the cache answers again).
    """
    key = generation_key()
    raw = _raw_redis()
    with timed():
        if raw is None:  # local memory: this process is the only reader
            with _local_lock:
                current = cache.get(key)
                moved = current is None or version > int(current)
                if moved:
                    cache.set(key, version, None)
        else:
            try:
                moved = bool(raw.eval(_SET_IF_GREATER, 1, cache.make_key(key), version))
            except Exception:
                logger.warning("could not publish catalogue version %s", version)
                breaker.trip()
                return None
    local.saw_generation(version, now())
    if moved:
        catalogue_published.send(sender=CATALOGUE, version=version)
    return moved


def publish_current(using: str = "default") -> bool | None:
    """Read the committed version and publish it (what a writer does after commit)."""
    return publish(read_version(using))


def generation() -> int:
    """The current generation for keys and ETags: one cache read.

    With the cache unreachable it returns -1, which no entry carries, so every read
    goes to the database. A lost generation (eviction, flush, a new Redis) is read
    back from the database once and published again.
    """
    sync.ensure_started()
    if not breaker.cache_available():
        return -1
    with timed():
        value = cache.get(generation_key())
    if value is not None:
        return reading_at(int(value))
    version = read_version()
    if publish(version) is None:
        return -1
    return reading_at(version)


def reading_at(generation: int) -> int:
    """What this request caches next is keyed by ``generation``, so its reads need a
    database that has it: the primary, or a replica that has replayed that version."""
    routing.require_version(generation)
    return generation


def fragment_context(request: HttpRequest | None = None) -> dict[str, Any]:
    """Template context for ``{% cache fragment_ttl "name" ... cache_generation %}``.

    Under DEBUG with ``?nocache=1``: a generation nothing is stored under and a TTL
    of 0, so every fragment renders (its queries show) and none is kept.
    """
    if bypassed(request):
        return {"cache_generation": BYPASS_GENERATION, "fragment_ttl": 0}
    return {"cache_generation": generation(), "fragment_ttl": FRAGMENT_TTL}


# --- Writers: one publish per transaction ---------------------------------------------


def _publish_after_write(alias: str) -> None:
    try:
        publish_current(alias)
    except Exception:
        # The write is committed; the sync publishes it within the bound.
        logger.warning("could not read the catalogue version after a write")


def _watch_writes(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if writes_catalogue(sql):
        connection = context["connection"]
        if connection.in_atomic_block:
            _publish_on_commit(connection)
        else:
            _publish_after_write(connection.alias)
    return result


def _publish_on_commit(connection: BaseDatabaseWrapper) -> None:
    """Queue a publish for this transaction's commit; only the first one runs.

    Every write statement queues its own callback (a rolled-back savepoint or
    transaction drops its callbacks, so none is ever lost); they share one batch, and
    the first to run after the commit publishes for all of them.
    """
    batch = getattr(connection, "catalogue_batch", None)
    if batch is None or batch["done"]:
        batch = {"done": False}
        connection.catalogue_batch = batch  # type: ignore[attr-defined]

    def callback() -> None:
        if not batch["done"]:
            batch["done"] = True
            _publish_after_write(connection.alias)

    transaction.on_commit(callback, using=connection.alias)


def watch_connection(connection: BaseDatabaseWrapper, **_: Any) -> None:
    """``connection_created`` receiver: watch this connection's writes, once."""
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _watch_writes)


# --- Everyone: the bounded sync -------------------------------------------------------


def sync_once(using: str = "default") -> int:
    """Publish the database's version if the cache is behind it; return the version."""
    version = read_version(using)
    cached = cache.get(generation_key())
    if cached is not None and int(cached) > version:
        logger.warning(
            "cache generation %s is ahead of the database's %s; moving it on",
            cached,
            version,
        )
        version = _raise_version(int(cached), using)
    if cached is None or int(cached) != version:
        publish(version)
    return version


class _Sync:
    """One daemon thread per process, started by the first read that needs it."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.lock = threading.Lock()

    def ensure_started(self) -> None:
        if self.pid == os.getpid():
            return
        interval = float(getattr(settings, "CATALOGUE_SYNC_SECONDS", 1.0))
        if interval <= 0:
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()  # a forked worker starts its own thread
            thread = threading.Thread(
                target=self.run, args=(interval,), name="catalogue-sync", daemon=True
            )
            thread.start()

    def run(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            try:
                sync_once()
            except Exception:
                logger.warning("catalogue sync failed", exc_info=True)
            finally:
                connections.close_all()  # this thread's; back to the pool


sync = _Sync()


def read_with_generation(key: str) -> tuple[int, Any]:
    """``(generation, value)`` in one cache round trip (an MGET).

    The value is whatever is stored under ``key`` unversioned; callers store the
    generation inside it and compare. ``(-1, None)`` while the cache is unreachable.
    """
    sync.ensure_started()
    if not breaker.cache_available():
        return -1, None
    gen_key = generation_key()
    with timed():
        found = cache.get_many([gen_key, key])
    if gen_key not in found:
        return generation(), None
    current = int(found[gen_key])
    local.saw_generation(current, now())
    return reading_at(current), found.get(key)
