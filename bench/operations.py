"""Write operations the apps declare (``OPERATIONS``), measured and rolled back.

A declared operation is a zero-argument function that prepares the work (reads the
rows it will change, builds its input) and returns the zero-argument callable to
measure, which may return the number of rows it changed. Both run inside one
transaction that bench rolls back, so measuring a write leaves no trace: bench never
changes data. The audit run counts the callable's statements (SAVEPOINTs, which only
mark the rollback, are left out); the timed runs measure it with no instrumentation,
every operation in turn, so a noisy neighbour slows them all alike.
"""

from __future__ import annotations

import fnmatch
import gc
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

Prepare = Callable[[], Callable[[], Any]]

AUTO_SECONDS_PER_OPERATION = 1.0  # time box per operation when no --repeat
AUTO_MIN_RUNS, AUTO_MAX_RUNS = 3, 20


@dataclass
class OperationResult:
    name: str
    queries: int = 0
    rows: int | None = None  # what the callable returned, when it is a count
    runs: int = 0
    samples: list[float] = field(default_factory=list, repr=False)
    error: str | None = None

    @property
    def p50_ms(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def p95_ms(self) -> float | None:
        if len(self.samples) < 2:
            return self.p50_ms
        return statistics.quantiles(self.samples, n=100, method="inclusive")[94]

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "queries": self.queries,
            "rows": self.rows,
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 2),
            "p95_ms": None if self.p95_ms is None else round(self.p95_ms, 2),
            "runs": self.runs,
            "error": self.error,
        }


class _Statements:
    """An execute wrapper that only keeps the SQL (no stack walk: a thousand
    per-row saves stay cheap to count)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    @property
    def count(self) -> int:
        return sum(1 for sql in self.sql if "SAVEPOINT" not in sql.upper())


def run_once(prepare: Prepare, statements: _Statements | None = None) -> tuple:
    """Prepare and run one operation in a transaction that is rolled back:
    ``(milliseconds of the callable alone, what it returned)``."""
    with transaction.atomic():
        operation = prepare()
        if statements is None:
            started = time.perf_counter()
            returned = operation()
            elapsed = time.perf_counter() - started
        else:
            with connection.execute_wrapper(statements):
                started = time.perf_counter()
                returned = operation()
                elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed * 1000, returned


def select(
    operations: Mapping[str, Prepare], patterns: list[str] | None
) -> dict[str, Prepare]:
    """The operations whose name matches any fnmatch pattern (all without any)."""
    if not patterns:
        return dict(operations)
    return {
        name: prepare
        for name, prepare in operations.items()
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)
    }


def _runs_for(first_ms: float, repeat: int | None) -> int:
    if repeat:
        return repeat
    wanted = int(AUTO_SECONDS_PER_OPERATION * 1000 / max(first_ms, 0.1))
    return max(AUTO_MIN_RUNS, min(AUTO_MAX_RUNS, wanted))


def measure(
    operations: Mapping[str, Prepare],
    *,
    repeat: int | None,
    timing: bool = True,
    advance: Callable[[str], None] | None = None,
) -> list[OperationResult]:
    """Audit every operation once (statements, rows), then time them in turns."""
    results = {name: OperationResult(name) for name in operations}
    for name, prepare in operations.items():
        if advance:
            advance(f"audit {name}")
        statements = _Statements()
        try:
            first_ms, returned = run_once(prepare, statements)
        except Exception as exc:  # reported as a row, like a scenario's 500
            results[name].error = f"{type(exc).__name__}: {exc}"
            continue
        results[name].queries = statements.count
        if isinstance(returned, int) and not isinstance(returned, bool):
            results[name].rows = returned
        results[name].runs = _runs_for(first_ms, repeat)
    if timing:
        gc.collect()
        live = {n: p for n, p in operations.items() if not results[n].error}
        for index in range(max((results[n].runs for n in live), default=0)):
            for name, prepare in live.items():
                if index < results[name].runs:
                    if advance and index == 0:
                        advance(f"time {name}")
                    results[name].samples.append(run_once(prepare)[0])
    for result in results.values():
        result.runs = len(result.samples)
    return list(results.values())
