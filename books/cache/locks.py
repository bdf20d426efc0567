"""Stampede protection: one recompute per expired key.

The lock is a ``cache.add`` with a short TTL, so a crashed holder frees it. Others
poll for the value; if the lock vanishes without a value (the holder failed, or the
cache is down and ``add`` always fails), they compute it themselves rather than wait.
The holder stores the value and frees the lock in one round trip
(``store_and_release``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError

from books.cache import breaker
from books.cache.keys import LOCK_POLL, LOCK_TTL, LOCK_WAIT, lock_key
from core.timing import timed

log = logging.getLogger(__name__)


def wait_or_lock(
    key: str, *, generation: int, fresh: Callable[[Any], bool]
) -> tuple[Any, bool]:
    """Take the recompute lock for ``key``, or wait for its holder's value.

    Returns ``(value, False)`` when a holder stored a value (``fresh(value)`` true),
    ``(None, True)`` when this caller holds the lock, and ``(None, False)`` when it
    should compute anyway (the holder vanished, or waited too long).
    """
    with timed():
        if cache.add(lock_key(key, generation), 1, LOCK_TTL):
            return None, True
    deadline = time.monotonic() + LOCK_WAIT
    while time.monotonic() < deadline:
        time.sleep(LOCK_POLL)
        with timed():
            found = cache.get_many([key, lock_key(key, generation)])
        value = found.get(key)
        if value is not None and fresh(value):
            return value, False
        if lock_key(key, generation) not in found:
            break
    return None, False


def release(key: str, *, generation: int) -> None:
    with timed():
        cache.delete(lock_key(key, generation))


def store_and_release(key: str, value: Any, timeout: int, *, generation: int) -> None:
    """``cache.set(key, value, timeout)``, then ``release()``: one round trip on Redis
    (a pipeline of SET and DEL), where the two calls would take two. ``timeout`` is
    whole seconds, more than 0.

    Redis unreachable: nothing is stored, the lock expires by itself, the breaker
    opens and the request is served (as with django-redis' IGNORE_EXCEPTIONS)."""
    client: Any = getattr(cache, "client", None)  # django-redis's, if configured
    with timed():
        if not hasattr(client, "get_client"):
            cache.set(key, value, timeout)
            cache.delete(lock_key(key, generation))
            return
        try:
            pipe = client.get_client(write=True).pipeline(transaction=False)
            pipe.set(client.make_key(key), client.encode(value), ex=timeout)
            pipe.delete(client.make_key(lock_key(key, generation)))
            pipe.execute()
        except RedisError:
            breaker.trip()
            log.warning("cache store failed for %s", key, exc_info=True)
