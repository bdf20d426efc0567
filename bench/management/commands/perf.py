"""Throughput of a running server under wrk: ``manage.py perf --url URL``.

Every target the apps declare (``PERF`` in their ``bench.py``) is loaded by wrk for
``--duration`` seconds, one after another, and the whole sequence is repeated
``--rounds`` times: interleaved, so a noisy neighbour slows every target alike and the
ratios stay honest. Prints requests/s per target (the median and each round) and
each target's ratio to the declared floors. A benchmark, not a test: nothing fails on
a number; a throttled or failing target stops the run.
"""

from __future__ import annotations

import json
import statistics
import urllib.request
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.table import Table

from bench import registry, wrk
from bench.loadtest import check_loopback
from bench.report import console_for

THROTTLED = (
    "{name}: the server answered 429 (throttled). Start it with LOAD_TEST=true "
    "(loopback only; `make perf` does) so one load generator is not one abusive "
    "client."
)


def _status_and_etag(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers.get("ETag", "")
    except HTTPError as error:
        return error.code, ""


class Command(BaseCommand):
    help = (
        "Load every declared PERF target of a running server with wrk, in "
        "interleaved rounds, and print requests/s with ratios to the floors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000")
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument(
            "--duration", type=float, default=5.0, help="seconds per target and round"
        )
        parser.add_argument("--connections", type=int, default=8)
        parser.add_argument(
            "--target", action="extend", nargs="+", help="only these targets"
        )
        parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        if not wrk.available():
            raise CommandError("perf needs wrk: apt-get install wrk")
        url = options["url"].rstrip("/")
        try:
            check_loopback(url)
        except (OSError, ValueError) as exc:
            raise CommandError(f"--url: {exc}") from exc
        if options["rounds"] < 1 or options["duration"] <= 0:
            raise CommandError("--rounds must be >= 1 and --duration > 0")
        targets = self._targets(url, options["target"])
        results: dict[str, list[wrk.WrkResult]] = {name: [] for name in targets}
        for _, target in targets.items():  # warm-up: pools, caches, imports
            wrk.run(target["url"], duration=1, headers=target["headers"])
        for round_number in range(1, options["rounds"] + 1):
            for name, target in targets.items():
                result = wrk.run(
                    target["url"],
                    duration=options["duration"],
                    connections=options["connections"],
                    headers=target["headers"],
                )
                self._check(name, target, result)
                results[name].append(result)
            if options["verbosity"]:
                self.stdout.write(f"round {round_number}/{options['rounds']} done")
        rows = self._rows(targets, results)
        self._print(rows, options, url)
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps({"url": url, "rows": rows}, indent=2)
            )

    def _targets(self, url: str, only: list[str] | None) -> dict[str, dict]:
        declared = registry.declarations()
        if not declared.perf:
            raise CommandError("No app declares PERF targets in its bench.py.")
        auth: dict[str, str] = {}
        for make_headers in declared.perf_headers:
            auth.update(make_headers())
        targets = {}
        for name, spec in declared.perf.items():
            if only and name not in only:
                continue
            headers = dict(auth) if spec.get("auth") else {}
            full = url + spec["path"]
            if spec.get("conditional"):
                status, etag = _status_and_etag(full, headers)
                if status != 200 or not etag:
                    raise CommandError(f"{name}: no ETag to send back ({status}).")
                headers["If-None-Match"] = etag
            targets[name] = {**spec, "url": full, "headers": headers}
        if not targets:
            raise CommandError(f"No PERF target matches {only}.")
        return targets

    def _check(self, name: str, target: dict, result: wrk.WrkResult) -> None:
        if not (result.bad_status or result.socket_errors):
            return
        status, _ = _status_and_etag(target["url"], target["headers"])
        if status == 429:
            raise CommandError(THROTTLED.format(name=name))
        raise CommandError(
            f"{name}: {result.bad_status} bad responses and {result.socket_errors} "
            f"socket errors under load (a single request now gets {status})."
        )

    def _rows(
        self, targets: dict[str, dict], results: dict[str, list[wrk.WrkResult]]
    ) -> list[dict]:
        medians = {n: statistics.median(r.rps for r in rs) for n, rs in results.items()}
        floors = [n for n, t in targets.items() if t.get("floor")]
        rows = []
        for name, target in targets.items():
            runs = results[name]
            p50s = [r.p50_ms for r in runs if r.p50_ms is not None]
            rows.append(
                {
                    "name": name,
                    "path": target["path"],
                    "auth": bool(target.get("auth")),
                    "rps": round(medians[name], 1),
                    "rounds": [round(r.rps, 1) for r in runs],
                    "p50_ms": round(statistics.median(p50s), 2) if p50s else None,
                    "ratios": {
                        floor: round(medians[name] / medians[floor], 2)
                        for floor in floors
                        if medians[floor]
                    },
                }
            )
        return rows

    def _print(self, rows: list[dict], options: dict, url: str) -> None:
        if not options["verbosity"]:
            return
        console = console_for(self.stdout)
        table = Table(
            title=(
                f"wrk -t1 -c{options['connections']} against {url}: "
                f"{options['rounds']} interleaved rounds of {options['duration']:g} s"
            ),
            title_justify="left",
        )
        floors = list(rows[0]["ratios"]) if rows else []
        table.add_column("target")
        table.add_column("req/s\n(median)", justify="right")
        table.add_column("p50 ms", justify="right")
        for floor in floors:
            table.add_column(f"× {floor}", justify="right")
        table.add_column("each round, req/s", justify="right")
        for row in rows:
            table.add_row(
                row["name"] + (" (token)" if row["auth"] else ""),
                f"{row['rps']:.0f}",
                "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}",
                *(f"{row['ratios'].get(f, 0):.2f}" for f in floors),
                " ".join(f"{r:.0f}" for r in row["rounds"]),
            )
        console.print(table)
