"""A breaker for the cache: after one failed call, skip it for ``BREAKER_SECONDS``.

A hung Redis costs ``SOCKET_TIMEOUT`` per call; once a call shows it is down, readers
go straight to the database until the breaker closes, then one request probes again.
"""

from __future__ import annotations

import time

BREAKER_SECONDS = 2.0
_down_until = 0.0


def cache_available() -> bool:
    """False for ``BREAKER_SECONDS`` after the cache was found unreachable."""
    return time.monotonic() >= _down_until


def trip() -> None:
    global _down_until
    _down_until = time.monotonic() + BREAKER_SECONDS


def reset() -> None:
    global _down_until
    _down_until = 0.0
