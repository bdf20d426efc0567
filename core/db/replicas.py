"""What each read replica can serve: health, lag and replayed version, per process.

Each process checks each replica every ``REPLICA_MONITOR_SECONDS`` from a daemon thread
of its own (``Monitor.ensure_started``, first request), so a replica that hangs never
delays the news about the others; requests only read the last observation, so routing
costs no query. A check is three short statements: the primary's WAL position, then on
the replica its replay position, the age of its last replayed commit and the version
the app registered (``register_version_sql``; books registers its catalogue version).

Lag is measured as *freshness*: the moment ``fresh_as_of`` before which the replica
holds every committed write. It is the latest of

- the time the primary was sampled at a WAL position the replica has replayed (right
  on an idle primary, where ``now() - pg_last_xact_replay_timestamp()`` only says how
  long nobody wrote);
- the replica's last replayed commit (right under a steady stream of writes);
- the previous observation (a live replica never goes back in time).

A replica serves a read only while ``now - fresh_as_of <= REPLICA_MAX_LAG_SECONDS``:
the observed lag plus the age of the observation, so a replica that stalls right after
a check leaves the rotation on time even if the next check is late. A read that fills
a cache entry for generation ``g`` also needs the replica's replayed version ``>= g``.
A replica that fails a connect or a query under a request is marked down at once; the
next successful check brings it back.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from core.db import routing
from core.db.breaker import breaker_for

logger = logging.getLogger(__name__)

DOWN, LAGGING, OK = "down", "lagging", "ok"

PRIMARY_SQL = "SELECT pg_current_wal_lsn()::text"
REPLICA_SQL = (
    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
    "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
)
# Samples of the primary's WAL position kept to date a replica's replay position.
HISTORY = 64
# How long a process's first request waits for the first check (seconds).
FIRST_CHECK_WAIT = 1.5


def parse_lsn(text: str) -> int:
    """``"16/B374D848"`` -> a comparable integer."""
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def fresh_as_of(
    history: list[tuple[float, int]],
    replay_lsn: int,
    replay_age: float | None,
    observed: float,
    previous: float | None,
) -> float | None:
    """The monotonic time before which the replica holds every committed write.

    ``history`` is ``(time, primary WAL position)`` samples; ``replay_age`` the
    seconds since the replica's last replayed commit, as it saw them at ``observed`` or
    a little later. None when nothing says how fresh it is.
    """
    candidates = [] if previous is None else [previous]
    replayed = [when for when, lsn in history if lsn <= replay_lsn]
    if replayed:
        candidates.append(max(replayed))
    if replay_age is not None:
        candidates.append(observed - max(replay_age, 0.0))
    return max(candidates, default=None)


@dataclass(frozen=True)
class ReplicaState:
    alias: str
    state: str
    checked: float  # monotonic time of the observation
    fresh_as_of: float | None = None
    version: int | None = None
    error: str = ""

    @property
    def lag_seconds(self) -> float | None:
        """Observed lag: how far behind the replica was when it was checked."""
        if self.fresh_as_of is None:
            return None
        return round(max(self.checked - self.fresh_as_of, 0.0), 3)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"state": self.state, "lag_seconds": self.lag_seconds}
        if self.version is not None:
            found["version"] = self.version
        if self.error:
            found["error"] = self.error
        return found


class Monitor:
    def __init__(
        self,
        aliases: list[str] | None = None,
        *,
        max_lag: float | None = None,
        interval: float | None = None,
    ) -> None:
        self._aliases = aliases
        self._max_lag = max_lag
        self._interval = interval
        self.version_sql: str | None = None
        self._states: dict[str, ReplicaState] = {}
        self._history: deque[tuple[float, int]] = deque(maxlen=HISTORY)
        self._history_lock = threading.Lock()
        self._record_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._turn = itertools.count()
        self._pid: int | None = None

    # --- configuration (settings are read late: tests override them) -----------------

    @property
    def aliases(self) -> list[str]:
        if self._aliases is not None:
            return self._aliases
        return list(getattr(settings, "REPLICA_DATABASES", []))

    @property
    def max_lag(self) -> float:
        if self._max_lag is not None:
            return self._max_lag
        return float(getattr(settings, "REPLICA_MAX_LAG_SECONDS", 1.0))

    @property
    def interval(self) -> float:
        if self._interval is not None:
            return self._interval
        return float(getattr(settings, "REPLICA_MONITOR_SECONDS", 0.5))

    # --- reading (per request: no I/O) ------------------------------------------------

    def state(self, alias: str) -> ReplicaState | None:
        return self._states.get(alias)

    def serves(self, alias: str, min_version: int = 0) -> bool:
        """Whether ``alias`` may serve a read now that needs ``min_version``."""
        state = self._states.get(alias)
        if state is None or state.state == DOWN or state.fresh_as_of is None:
            return False
        if time.monotonic() - state.fresh_as_of > self.max_lag:
            return False
        if min_version and (state.version is None or state.version < min_version):
            return False
        return not breaker_for(alias).is_open

    def choose(self, min_version: int = 0) -> str | None:
        """A replica that may serve the read, taking turns; None for the primary."""
        eligible = [alias for alias in self.aliases if self.serves(alias, min_version)]
        if not eligible:
            return None
        return eligible[next(self._turn) % len(eligible)]

    def report(self) -> dict[str, dict[str, Any]]:
        """Check now and describe each replica (``/healthz``)."""
        states = self.check()
        return {alias: states[alias].as_json() for alias in self.aliases}

    # --- recording ------------------------------------------------------------------

    def record(self, state: ReplicaState) -> None:
        """Keep ``state`` unless a later observation is already there (a request that
        saw the replica fail while a check that had found it healthy was finishing)."""
        with self._record_lock:
            current = self._states.get(state.alias)
            if current is None or current.checked <= state.checked:
                self._states[state.alias] = state  # readers need no lock

    def reset(self) -> None:
        """Forget every observation (a forked process, or a test)."""
        self._states.clear()
        with self._history_lock:
            self._history.clear()

    def mark_down(self, alias: str, error: str) -> None:
        """Out of the rotation until a check finds it healthy again."""
        if alias in self.aliases:
            self.record(ReplicaState(alias, DOWN, time.monotonic(), error=error[:200]))

    # --- checking ---------------------------------------------------------------------

    def check(self) -> dict[str, ReplicaState]:
        """Check every replica now, one after the other (``/healthz``, tests)."""
        for alias in self.aliases:
            self.check_one(alias)
        return dict(self._states)

    def check_one(self, alias: str) -> ReplicaState:
        """Observe the primary's WAL position, then the replica's."""
        self._sample_primary()
        state = self._check_replica(alias)
        self.record(state)
        return state

    def _sample_primary(self) -> None:
        # Timed before asking: every write committed by then is at or below the answer.
        asked = time.monotonic()
        try:
            with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute(PRIMARY_SQL)
                lsn = parse_lsn(cursor.fetchone()[0])
        except Exception as exc:
            # Replicas are then dated by their own replay timestamps alone.
            logger.warning("replica monitor: primary unreadable: %s", _first_line(exc))
            return
        with self._history_lock:
            self._history.append((asked, lsn))

    def _check_replica(self, alias: str) -> ReplicaState:
        previous = self._states.get(alias)
        # Timed before asking, so the replay age dates its last commit no later than
        # it happened.
        asked = time.monotonic()
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(REPLICA_SQL)
                in_recovery, replay, replay_age = cursor.fetchone()
                version = None
                if in_recovery and self.version_sql:
                    cursor.execute(self.version_sql)
                    row = cursor.fetchone()
                    version = None if row is None else int(row[0])
        except Exception as exc:
            if previous is None or previous.state != DOWN:
                logger.warning("replica %s is down: %s", alias, _first_line(exc))
            return ReplicaState(alias, DOWN, time.monotonic(), error=_first_line(exc))
        observed = time.monotonic()
        if not in_recovery or replay is None:
            return ReplicaState(alias, DOWN, observed, error="not in recovery")
        carried = None
        if previous is not None and previous.state != DOWN:
            carried = previous.fresh_as_of
        with self._history_lock:
            history = list(self._history)
        fresh = fresh_as_of(
            history,
            parse_lsn(replay),
            None if replay_age is None else float(replay_age),
            asked,
            carried,
        )
        lagging = fresh is None or observed - fresh > self.max_lag
        return ReplicaState(alias, LAGGING if lagging else OK, observed, fresh, version)

    # --- the thread -------------------------------------------------------------------

    def ensure_started(self) -> None:
        """Start this process's checking threads (a forked worker starts its own).

        Each checks its replica at once, and the first request waits for those checks
        (at most ``FIRST_CHECK_WAIT``), so a fresh worker reads from healthy replicas
        from its first request on instead of sending everything to the primary.
        """
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self.reset()  # observations of the parent are not ours
            self._pid = os.getpid()
            if self.interval <= 0:
                return
            firsts = []
            for alias in self.aliases:
                first = threading.Event()
                threading.Thread(
                    target=self._run,
                    args=(alias, first),
                    name=f"replica-monitor-{alias}",
                    daemon=True,
                ).start()
                firsts.append(first)
        deadline = time.monotonic() + FIRST_CHECK_WAIT
        for first in firsts:
            first.wait(max(0.0, deadline - time.monotonic()))

    def _run(self, alias: str, first: threading.Event) -> None:
        while True:
            try:
                self.check_one(alias)
            except Exception:
                logger.warning("replica %s: check failed", alias, exc_info=True)
            finally:
                connections.close_all()  # this thread's; back to the pools
                first.set()
            time.sleep(self.interval)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


monitor = Monitor()


def register_version_sql(sql: str) -> None:
    """The statement that returns the version a replica has replayed (one integer)."""
    monitor.version_sql = sql


def is_replica(alias: str) -> bool:
    return alias in monitor.aliases


def replica_failed(alias: str, exc: BaseException) -> None:
    """A request's connect or query on ``alias`` failed: out of the rotation now, and
    the request is answered again from the primary (``ReplicaMiddleware``)."""
    if not is_replica(alias):
        return
    monitor.mark_down(alias, _first_line(exc))
    scope = routing.current()
    if scope is not None:
        scope.failed.add(alias)
