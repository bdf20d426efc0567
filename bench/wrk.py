"""Load from ``wrk``: a C load generator, so the client is never the bottleneck.

A Python load generator on the same two cores as the server measures itself as much
as the server; wrk (``apt-get install wrk``) does not. ``bench --url`` uses it when it
is installed and falls back to its own threads otherwise; ``manage.py perf`` needs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(m?s|m)\b")
_BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)
_PERCENTILE = re.compile(r"^\s+(50|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


@dataclass
class WrkResult:
    rps: float
    requests: int
    bad_status: int  # non-2xx/3xx responses (wrk counts 304 as fine)
    socket_errors: int
    p50_ms: float | None
    p99_ms: float | None
    output: str


def parse(output: str) -> WrkResult:
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    bad = _BAD.search(output)
    errors = _ERRORS.search(output)
    percentiles = {p: float(v) * _UNITS[u] for p, v, u in _PERCENTILE.findall(output)}
    return WrkResult(
        rps=float(rate.group(1)) if rate else 0.0,
        requests=int(total.group(1)) if total else 0,
        bad_status=int(bad.group(1)) if bad else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        p50_ms=percentiles.get("50"),
        p99_ms=percentiles.get("99"),
        output=output,
    )


def run(
    url: str,
    *,
    duration: float,
    connections: int = 8,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """One wrk run against ``url``; ``--latency`` for the percentiles."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)
