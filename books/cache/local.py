"""A bounded in-process LRU in front of Redis: the L1 of a two-level cache.

The hottest responses are read by every worker thousands of times a minute; each read
from Redis is a network round trip. Each process keeps the entries it served most
recently (bounded by ``CACHE_LOCAL_MAX_BYTES``, least recently used out first) and
answers them with no round trip at all. An entry carries the generation it was built
at and is served only while that is the current one. The current generation itself
is re-read from Redis at most every ``CACHE_LOCAL_SECONDS`` (0 turns the L1 off), so
a write published by another process reaches this one within that, inside the
2 s freshness bound. Off with a local-memory cache, which is already in-process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core.cache import cache


def seconds() -> float:
    """How long this process trusts its copy of the generation; 0 means no L1."""
    if not hasattr(getattr(cache, "client", None), "get_client"):
        return 0.0  # local memory: nothing to save
    return float(getattr(settings, "CACHE_LOCAL_SECONDS", 0.5))


def _size(entry: dict[str, Any]) -> int:
    return len(entry["body"]) + sum(len(b) for b in entry.get("encodings", {}).values())


class LocalCache:
    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.generation = -1
        self.generation_read_at = float("-inf")

    # --- the generation this process believes current -------------------------------

    def current_generation(self, now: float) -> int | None:
        """The generation if read within ``seconds()``, else None (read it again)."""
        if now - self.generation_read_at <= seconds():
            return self.generation
        return None

    def saw_generation(self, generation: int, now: float) -> None:
        """Redis said so (an MGET) or this process published it."""
        with self._lock:
            if generation >= self.generation:
                self.generation = generation
                self.generation_read_at = now

    # --- entries --------------------------------------------------------------------

    def get(self, key: str, generation: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None or found[0].get("gen") != generation:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: str, entry: dict[str, Any]) -> None:
        size = _size(entry)
        limit = int(getattr(settings, "CACHE_LOCAL_MAX_BYTES", 32 * 1024 * 1024))
        if size > limit // 8:
            return  # one huge body must not evict everything
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (entry, size)
            self.bytes += size
            while self.bytes > limit and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
            self.generation = -1
            self.generation_read_at = float("-inf")

    def stats(self) -> dict[str, int]:
        return {
            "entries": len(self._entries),
            "bytes": self.bytes,
            "hits": self.hits,
            "misses": self.misses,
        }


local = LocalCache()


def now() -> float:
    return time.monotonic()
