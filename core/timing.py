"""Time spent in the cache during one request, for the ``Server-Timing`` header.

The domain's cache helpers wrap each call in ``timed()``; ``ServerTimingMiddleware``
opens a ``measure_cache_time()`` scope per request and reports the sum.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class CacheTiming:
    seconds: float = 0.0
    calls: int = 0


_timing: contextvars.ContextVar[CacheTiming | None] = contextvars.ContextVar(
    "cache_timing", default=None
)


@contextmanager
def measure_cache_time() -> Iterator[CacheTiming]:
    """Collect the time this request spends in ``timed()`` blocks."""
    timing = CacheTiming()
    token = _timing.set(timing)
    try:
        yield timing
    finally:
        _timing.reset(token)


@contextmanager
def timed() -> Iterator[None]:
    """Add the block's duration to the current request's cache time, if measured."""
    timing = _timing.get()
    start = time.perf_counter()
    try:
        yield
    finally:
        if timing is not None:
            timing.seconds += time.perf_counter() - start
            timing.calls += 1
