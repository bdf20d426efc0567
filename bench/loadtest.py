"""``bench --url``: throughput and latency of a running server, over real HTTP.

With wrk installed (``apt-get install wrk``) each scenario's path is loaded by wrk;
otherwise threads with one keep-alive connection each hammer it for a fixed time (a
Python client on the server's own cores measures itself too: prefer wrk). Only
loopback addresses are accepted: this measures a local gunicorn, not the internet.
A 429 stops the run (``Throttled``): timing a throttle's refusals measures nothing.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bench import wrk
from bench.runner import percentiles


class Throttled(Exception):
    """The server answered 429: it throttles this client, so nothing can be timed."""

    def __init__(self, path: str) -> None:
        super().__init__(f"HTTP 429 on {path}")
        self.path = path


@dataclass
class LoadResult:
    name: str
    variant: str
    path: str
    requests: int = 0
    errors: int = 0
    throttled: int = 0  # 429s; any one stops the run (load() raises Throttled)
    seconds: float = 0.0
    samples: list[float] = field(default_factory=list)
    generator: str = "python"
    wrk_result: wrk.WrkResult | None = None

    def as_json(self) -> dict:
        cuts: Mapping[int, float | None]
        if self.wrk_result is not None:
            cuts = {50: self.wrk_result.p50_ms, 95: None, 99: self.wrk_result.p99_ms}
        else:
            cuts = percentiles(self.samples or [0.0])
        return {
            "name": self.name,
            "variant": self.variant,
            "path": self.path,
            "requests": self.requests,
            "errors": self.errors,
            "throttled": self.throttled,
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": _round(cuts[50]),
            "p95_ms": _round(cuts[95]),
            "p99_ms": _round(cuts[99]),
            "generator": self.generator,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def check_loopback(url: str) -> tuple[str, int]:
    """(host, port) of an http:// URL that resolves to loopback only."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url!r}: expected http://host:port")
    port = parts.port or 80
    infos = socket.getaddrinfo(parts.hostname, port)
    addresses = {str(info[4][0]) for info in infos}  # an IP address, for IP families
    if not addresses or not all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    ):
        raise ValueError(
            f"{url!r} is not a loopback address; bench --url is local only"
        )
    return parts.hostname, port


def hammer(
    host: str,
    port: int,
    path: str,
    *,
    concurrency: int,
    duration: float,
) -> tuple[int, int, int, float, list[float]]:
    """(requests, errors, throttled, seconds, latencies ms) for ``duration`` s.

    Every thread stops at the first 429 any of them gets.
    """
    lock = threading.Lock()
    stop = threading.Event()
    samples: list[float] = []
    counts = {"ok": 0, "errors": 0, "throttled": 0}
    headers = {"Accept-Encoding": "gzip", "Host": f"{host}:{port}"}
    deadline = time.perf_counter() + duration

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        errors = throttled = 0
        while time.perf_counter() < deadline and not stop.is_set():
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                failed = response.status >= 400
                if response.status == 429:
                    throttled += 1
                    stop.set()
            except (OSError, http.client.HTTPException):
                failed = True
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
            if failed:
                errors += 1
            else:
                mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            samples.extend(mine)
            counts["ok"] += len(mine)
            counts["errors"] += errors
            counts["throttled"] += throttled

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return counts["ok"], counts["errors"], counts["throttled"], elapsed, samples


def load(url: str, scenarios, *, concurrency: int, duration: float) -> list[LoadResult]:
    """Warm each path briefly, then measure it for ``duration`` seconds.

    Raises ``Throttled`` as soon as the server answers 429, warm-up included.
    """
    host, port = check_loopback(url)
    prefix = urlsplit(url).path.rstrip("/")
    if wrk.available():
        return [
            _with_wrk(url, scenario, concurrency, duration) for scenario in scenarios
        ]
    results = []
    for scenario in scenarios:
        path = prefix + scenario.path
        warm = hammer(host, port, path, concurrency=1, duration=min(0.3, duration / 4))
        if warm[2]:
            raise Throttled(path)
        requests, errors, throttled, seconds, samples = hammer(
            host, port, path, concurrency=concurrency, duration=duration
        )
        if throttled:
            raise Throttled(path)
        results.append(
            LoadResult(
                scenario.name,
                scenario.variant,
                path,
                requests,
                errors,
                throttled,
                seconds,
                samples,
            )
        )
    return results


def _with_wrk(url: str, scenario, concurrency: int, duration: float) -> LoadResult:
    parts = urlsplit(url)
    target = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{scenario.path}"
    wrk.run(target, duration=1, connections=1)  # warm-up
    result = wrk.run(target, duration=duration, connections=concurrency)
    if result.bad_status:
        import urllib.request
        from urllib.error import HTTPError

        try:
            urllib.request.urlopen(target, timeout=10).close()  # noqa: S310
        except HTTPError as error:
            if error.code == 429:
                raise Throttled(scenario.path) from error
    return LoadResult(
        scenario.name,
        scenario.variant,
        scenario.path,
        requests=result.requests - result.bad_status,
        errors=result.bad_status + result.socket_errors,
        seconds=max(1, round(duration)),  # what wrk ran for
        generator="wrk",
        wrk_result=result,
    )
