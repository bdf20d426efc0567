"""Audit every endpoint and page: ``manage.py bench``.

For each scenario (every GET route of the API and the HTML pages, tuned and naive,
cold and warm cache) an audit pass records the queries (count, duplicate fingerprints,
N+1 sites with the line that issued them and a fix hint), then a separate timing pass
with no instrumentation measures p50/p95/p99. Budgets fail the run (exit status 1), so
CI can gate on it. Benchmarking never changes data; only ``--sizes`` reseeds, on
request.
"""

from __future__ import annotations

import functools
import json
import platform
import time
from pathlib import Path

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from bench import budgets as budgetmod
from bench import explain as explainmod
from bench import report
from bench.client import make_client
from bench.html_report import write_html
from bench.probe import clear_caches
from bench.registry import declarations
from bench.runner import CACHE_MODES, Result, dataset_info, run
from bench.scenarios import Dataset, discover, select


def _sizes(value: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in value.split(",") if part]
    except ValueError as exc:
        raise CommandError(f"--sizes: {value!r} is not a list of integers") from exc
    if not sizes or min(sizes) < 1:
        raise CommandError("--sizes needs positive book counts, e.g. 1000,10000")
    return sizes


class Command(BaseCommand):
    help = (
        "Benchmark every API endpoint and HTML page, tuned vs naive, cold vs warm "
        "cache: queries, duplicates, N+1 sites, p50/p95/p99, bytes. Exit 1 on a "
        "budget breach."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", metavar="PATH", help="write results as JSON")
        parser.add_argument("--html", metavar="PATH", help="write an HTML report")
        parser.add_argument(
            "--budget",
            metavar="PATH",
            help="budget file, e.g. settings.BENCH_BUDGETS; exit 1 on a breach",
        )
        parser.add_argument(
            "--no-timing-budgets",
            action="store_true",
            help="enforce only the query budgets (machine-independent; what CI does)",
        )
        parser.add_argument(
            "--repeat",
            "--iterations",
            dest="repeat",
            type=int,
            default=None,
            help="timed requests per scenario and cache mode (default: time-boxed)",
        )
        parser.add_argument(
            "--scenario",
            action="extend",
            nargs="+",
            metavar="NAME",
            help="only scenarios (or route names) matching these globs, e.g. "
            "'api.books.*' page.home (repeatable)",
        )
        parser.add_argument("--cold", action="store_true", help="cold cache only")
        parser.add_argument("--warm", action="store_true", help="warm cache only")
        parser.add_argument(
            "--no-timing",
            action="store_true",
            help="audit queries only, skip the timing pass",
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="EXPLAIN each distinct query of the tuned scenarios",
        )
        parser.add_argument(
            "--sizes",
            metavar="N,N,...",
            help="DESTRUCTIVE: reseed at each book count and report the growth",
        )
        parser.add_argument(
            "--url",
            help="also load-test a running server on loopback, e.g. "
            "http://127.0.0.1:8000",
        )
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument(
            "--duration", type=float, default=3.0, help="seconds per scenario (--url)"
        )
        parser.add_argument(
            "--compare",
            metavar="PATH",
            help="diff against an earlier --json: query counts, duplicates, p50",
        )
        parser.add_argument("--list", action="store_true", help="list scenarios only")

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        self.declared = declarations()
        self.console = report.console_for(self.stdout)
        if options["repeat"] is not None and options["repeat"] < 1:
            raise CommandError("--repeat must be >= 1")
        if options["concurrency"] < 1 or options["duration"] <= 0:
            raise CommandError("--concurrency must be >= 1 and --duration > 0")
        modes = tuple(
            m
            for m in CACHE_MODES
            if options[m] or not (options["cold"] or options["warm"])
        )
        budgets = []
        if options["budget"]:
            try:
                budgets = budgetmod.load(options["budget"])
            except (OSError, ValueError) as exc:
                raise CommandError(f"--budget: {exc}") from exc
        url = options["url"]
        if url:
            from bench.loadtest import check_loopback

            try:
                check_loopback(url)
            except (OSError, ValueError) as exc:
                raise CommandError(f"--url: {exc}") from exc

        sizes = _sizes(options["sizes"]) if options["sizes"] else None
        if sizes and options["list"]:
            raise CommandError("--list never reseeds; drop --sizes to list scenarios.")
        if sizes:
            self._warn_reseed(sizes)
        else:
            self._check_data()

        client = make_client()
        steps = []
        for size in sizes or [None]:
            if size is not None:
                self._reseed(size)
            steps.append((size, *self._measure(client, options, modes)))
        _, dataset, results, notes = steps[-1]

        if options["list"]:
            return

        rows = [r.as_json() for r in results]
        breaches = budgetmod.check(
            rows, budgets, timing=not options["no_timing_budgets"]
        )
        self._print_results(dataset, results, breaches, notes)

        extra: dict = {
            "meta": {
                "generated": timezone.now().isoformat(timespec="seconds"),
                "django": django.get_version(),
                "python": platform.python_version(),
                "debug": settings.DEBUG,
                "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
                "repeat": options["repeat"] or "auto",
                "cache_modes": list(modes),
            }
        }
        if sizes:
            extra["sizes"] = [
                {"size": size, "dataset": d, "scenarios": [r.as_json() for r in res]}
                for size, d, res, _ in steps
            ]
            self._print_sizes(steps)
        if options["explain"]:
            findings = explainmod.explain_results(results)
            extra["explain"] = [f.as_json() for f in findings]
            self._print_explain(findings)
        if url:
            extra["http"] = self._load(url, results, options)

        doc = report.document(dataset, results, breaches, extra)
        if options["compare"]:
            try:
                baseline = json.loads(Path(options["compare"]).read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--compare: {exc}") from exc
            doc["compare"] = {
                "baseline": options["compare"],
                "changes": report.compare(doc, baseline),
            }
            self._print_compare(doc["compare"]["changes"])
        if options["json"]:
            report.write_json(options["json"], doc)
            self._say(f"Wrote {options['json']}")
        if options["html"]:
            write_html(options["html"], doc)
            self._say(f"Wrote {options['html']}")
        if breaches:
            for breach in breaches:
                self.stderr.write(f"budget breach: {breach}")
            raise CommandError(
                f"{len(breaches)} budget breach(es):\n"
                + "\n".join(f"  {b}" for b in breaches)
            )
        if budgets and self.verbosity:
            self.stdout.write(self.style.SUCCESS("All budgets met."))

    # --- steps ------------------------------------------------------------------

    def _say(self, message: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.stdout.write(message)

    def _warn_reseed(self, sizes: list[int]) -> None:
        """--sizes needs a declared RESEED; say what it destroys before it runs."""
        if not self.declared.reseed:
            raise CommandError(
                "--sizes needs an app to declare RESEED in its bench.py "
                f"(read: {', '.join(self.declared.sources) or 'none'})."
            )
        db = connection.settings_dict.get("NAME")
        what = " ".join(
            (reseed.__doc__ or f"{reseed.__qualname__} deletes and reseeds data.")
            .strip()
            .splitlines()[0]
            for reseed in self.declared.reseed
        )
        self.stdout.write(
            self.style.WARNING(
                f"--sizes reseeds database {db!r} at each of "
                f"{', '.join(f'{n:,}' for n in sizes)}: {what} The database is left "
                f"at size {sizes[-1]:,}."
            )
        )

    def _check_data(self) -> None:
        """Stop early when every declared dataset count is 0: nothing to measure."""
        counts = {name: count() for name, count in self.declared.dataset.items()}
        if counts and not any(counts.values()):
            listed = ", ".join(f"{name} 0" for name in counts)
            raise CommandError(
                f"No data to benchmark ({listed}): seed the database first."
            )

    def _reseed(self, size: int) -> None:
        started = time.perf_counter()
        for reseed in self.declared.reseed:
            reseed(size)
        self._say(f"Reseeded at size {size:,} in {time.perf_counter() - started:.1f}s.")

    def _measure(
        self, client, options, modes: tuple[str, ...]
    ) -> tuple[dict, list[Result], list[str]]:
        dataset = dataset_info(self.declared.dataset)
        picks = Dataset(self.declared.picks)
        scenarios, notes = discover(client, self.declared, picks)
        scenarios = select(scenarios, options["scenario"])
        if not scenarios:
            raise CommandError(
                "No scenario matches; run with --list to see the scenario names."
            )
        if options["list"]:
            for s in scenarios:
                self.stdout.write(f"{s.name:32} {s.variant:6} {s.path}")
            return dataset, [], notes
        timing = not options["no_timing"]
        steps = len(scenarios) * (1 + (len(modes) if timing else 0))
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=self.verbosity == 0,
        ) as bar:
            task = bar.add_task(f"bench ({report.describe(dataset)})", total=steps)
            done = {"n": 0}

            def advance(label: str) -> None:
                if done["n"]:
                    bar.advance(task)
                done["n"] += 1
                bar.update(task, description=label)

            results = run(
                scenarios,
                client=client,
                repeat=options["repeat"],
                timing=timing,
                modes=modes,
                clear=functools.partial(clear_caches, self.declared.clear_cache),
                advance=advance,
            )
        return dataset, results, notes

    # --- output -----------------------------------------------------------------

    def _print_results(self, dataset, results, breaches, notes) -> None:
        if not self.verbosity:
            return
        title = f"bench: {report.describe(dataset)}"
        self.console.print(report.build_table(results, breaches, title))
        self.console.print(
            "queries/dups: tuned / naive (naive in yellow, budget breach in red). "
            "~ = noisy (p95 > 2 x p50). speed-up = naive p50 / tuned p50.",
            style="dim",
        )
        noisy = [r for r in results if r.noisy]
        if noisy:
            self.console.print(
                f"{len(noisy)} of {len(results)} timings are noisy (~): rerun on a "
                "quiet machine or with a larger --repeat before trusting them.",
                style="yellow",
            )
        lines = report.n_plus_one_lines(results)
        if lines:
            self.console.print(Text("\nN+1 sites", style="bold"))
            shown = lines if self.verbosity >= 2 else lines[:10]
            for style, line in shown:
                self.console.print(Text(line, style=style))
            if len(shown) < len(lines):
                self.console.print(
                    f"... {len(lines) - len(shown)} more with --verbosity 2",
                    style="dim",
                )
        errors = {(r.name, r.variant): r.error for r in results if r.error}
        for (name, variant), error in errors.items():
            self.console.print(Text(f"{name} [{variant}] failed: {error}", style="red"))
        if settings.DEBUG:
            self.console.print(
                "DEBUG is on: every query is logged, so timings include debug "
                "overhead. Run with DEBUG=false for honest numbers.",
                style="yellow",
            )
        for note in notes if self.verbosity >= 2 else ():
            self.console.print(Text(f"note: {note}", style="dim"))
        for breach in breaches:
            self.console.print(Text(f"BREACH {breach}", style="bold red"))

    def _print_compare(self, changes: list[dict]) -> None:
        if not self.verbosity:
            return
        if not changes:
            self.console.print("No change against the baseline.", style="green")
            return
        self.console.print(Text("\nAgainst the baseline", style="bold"))
        for change in changes:
            label = f"{change['name']} [{change['variant']}, {change['cache']}]"
            if "metric" not in change:
                self.console.print(Text(f"  {change['change']}: {label}", style="dim"))
                continue
            bad = (
                change["change"] in ("more", "slower") and change["variant"] == "tuned"
            )
            self.console.print(
                Text(
                    f"  {change['change']}: {label} {change['metric']} "
                    f"{change['before']} -> {change['after']}",
                    style="red" if bad else "green",
                )
            )

    def _print_sizes(self, steps) -> None:
        if not self.verbosity:
            return
        table = Table(title="growth with data size (cold cache)", title_justify="left")
        table.add_column("scenario")
        table.add_column("variant")
        for size, _, _, _ in steps:
            table.add_column(f"size {size:,}\nqueries / p50 ms", justify="right")
        keys = list(dict.fromkeys((r.name, r.variant) for r in steps[-1][2]))
        for name, variant in keys:
            cells = []
            for _, _, results, _ in steps:
                found = next(
                    (
                        r
                        for r in results
                        if (r.name, r.variant, r.cache) == (name, variant, "cold")
                    ),
                    None,
                )
                cells.append(
                    "-"
                    if found is None
                    else f"{found.queries} / {report._ms(found.p50_ms)}"
                )
            table.add_row(
                name, variant, *cells, style="yellow" if variant == "naive" else None
            )
        self.console.print(table)

    def _print_explain(self, findings) -> None:
        if not self.verbosity:
            return
        flagged = [f for f in findings if f.flags]
        self.console.print(
            Text(
                f"\nEXPLAIN: {len(findings)} distinct queries of the tuned scenarios, "
                f"{len(flagged)} flagged",
                style="bold red" if flagged else "bold green",
            )
        )
        for finding in findings:
            if finding.flags:
                style, status = "red", "; ".join(finding.flags)
            elif finding.notes:
                style, status = "yellow", "note: " + "; ".join(finding.notes)
            elif finding.error:
                style, status = "yellow", finding.error
            else:
                style, status = "green", "ok"
            quiet = not (finding.flags or finding.notes or finding.error)
            if quiet and self.verbosity < 2:
                names = ", ".join(finding.scenarios)
                names = names if len(names) <= 50 else names[:47] + "..."
                self.console.print(Text(f"  ok  {names}: {finding.headline}"))
                continue
            self.console.print(Text(f"  {status}", style=style))
            self.console.print(Text(f"      {finding.fingerprint[:200]}", style="dim"))
            self.console.print(
                Text("      " + finding.plan.replace("\n", "\n      "), style="dim")
            )

    def _load(self, url: str, results: list[Result], options) -> dict:
        from bench.loadtest import load

        scenarios = list({r.scenario.key: r.scenario for r in results}.values())
        self._say(
            f"Load: {len(scenarios)} scenarios x {options['duration']:g}s at "
            f"concurrency {options['concurrency']} against {url}"
        )
        loads = load(
            url,
            scenarios,
            concurrency=options["concurrency"],
            duration=options["duration"],
        )
        rows = [load_result.as_json() for load_result in loads]
        if self.verbosity:
            queries = {
                (r.name, r.variant): r.queries for r in results if r.cache == "warm"
            }
            table = Table(
                title=f"over HTTP: {url} (concurrency {options['concurrency']})",
                title_justify="left",
            )
            for column in ("scenario", "variant", "req/s", "p50 ms", "p95 ms"):
                table.add_column(
                    column,
                    justify="left" if column in ("scenario", "variant") else "right",
                )
            table.add_column("tuned/naive\nreq/s", justify="right")
            table.add_column("errors", justify="right")
            table.add_column("queries warm\n(in-process)", justify="right")
            rps = {(row["name"], row["variant"]): row["rps"] for row in rows}
            for row in rows:
                naive_rps = rps.get((row["name"], "naive"))
                gain = (
                    f"{row['rps'] / naive_rps:.1f}×"
                    if row["variant"] == "tuned" and naive_rps
                    else ""
                )
                table.add_row(
                    row["name"],
                    row["variant"],
                    f"{row['rps']:.0f}",
                    report._ms(row["p50_ms"]),
                    report._ms(row["p95_ms"]),
                    gain,
                    Text(str(row["errors"]), style="red" if row["errors"] else ""),
                    str(queries.get((row["name"], row["variant"]), "-")),
                    style="yellow" if row["variant"] == "naive" else None,
                )
            self.console.print(table)
            if any(row["throttled"] for row in rows):
                self.console.print(
                    "429s: the server throttles this one client address; start it "
                    "with e.g. API_THROTTLE_ANON=1000000/min to measure throughput.",
                    style="yellow",
                )
        return {
            "url": url,
            "concurrency": options["concurrency"],
            "duration_s": options["duration"],
            "scenarios": rows,
        }
