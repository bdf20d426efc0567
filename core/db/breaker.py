"""A breaker per database alias: after a failed connect, fail fast for a moment.

With PostgreSQL down, every request that needs a connection would wait the pool's
timeout before its 503, and a few such requests occupy every worker thread while the
anonymous requests the cache could answer queue behind them. Once a connect fails the
breaker opens: for ``BREAKER_SECONDS`` no request tries, each fails in microseconds.
Then one request probes (half-open); the others keep failing fast until it succeeds.
"""

from __future__ import annotations

import threading
import time

BREAKER_SECONDS = 1.0


class Breaker:
    def __init__(self, seconds: float = BREAKER_SECONDS) -> None:
        self.seconds = seconds
        self._open_until = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """True when a connect may be tried: closed, or this caller is the probe."""
        if self._open_until == 0.0:
            return True
        with self._lock:
            if time.monotonic() < self._open_until or self._probing:
                return False
            self._probing = True  # half-open: let exactly one caller through
            return True

    def succeeded(self) -> None:
        if self._open_until or self._probing:
            with self._lock:
                self._open_until = 0.0
                self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.seconds
            self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(alias: str) -> Breaker:
    breaker = _breakers.get(alias)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(alias, Breaker())
    return breaker
