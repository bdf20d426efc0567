"""Audit every endpoint and page: ``manage.py bench``.

For each scenario (every GET route of the declared URL namespaces, tuned and naive,
cold and warm cache) an audit pass records the queries (count, duplicate fingerprints,
N+1 sites with the line that issued them and a fix hint), then a separate timing pass
with no instrumentation measures p50/p95/p99. Budgets fail the run (exit status 1), so
CI can gate on it. Benchmarking never changes data; only ``--sizes`` reseeds, on
request, through an app's declared RESEED.
"""

from __future__ import annotations

import functools
import json
import platform
import subprocess
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.text import Text

from bench import budgets as budgetmod
from bench import compare as comparemod
from bench import explain as explainmod
from bench import operations, report
from bench.client import Server, make_client
from bench.html_report import write_html
from bench.loadtest import Throttled, check_loopback, load
from bench.markdown_report import write_markdown
from bench.probe import clear_caches
from bench.registry import declarations
from bench.runner import CACHE_MODES, Result, Step, dataset_info, run, time_pair
from bench.scenarios import Dataset, Scenario, discover, select


def _sizes(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        sizes = [int(part.replace("_", "")) for part in value.split(",") if part]
    except ValueError as exc:
        raise CommandError(f"--sizes: {value!r} is not a list of integers") from exc
    if not sizes or min(sizes) < 1:
        raise CommandError("--sizes needs positive sizes, e.g. 1000,10000")
    return sizes


def _check_options(options: dict[str, Any]) -> None:
    """Reject impossible combinations before anything is measured."""
    if options["repeat"] is not None and options["repeat"] < 1:
        raise CommandError("--repeat must be >= 1")
    if options["concurrency"] < 1 or options["duration"] <= 0:
        raise CommandError("--concurrency must be >= 1 and --duration > 0")
    if options["sizes"] and options["list"]:
        raise CommandError("--list never reseeds; drop --sizes to list scenarios.")
    if options["fail_on_regression"] is not None and not options["compare"]:
        raise CommandError("--fail-on-regression needs --compare BASELINE.json")
    if options["url"]:
        try:
            check_loopback(options["url"])
        except (OSError, ValueError) as exc:
            raise CommandError(f"--url: {exc}") from exc


def _modes(options: dict[str, Any]) -> tuple[str, ...]:
    """--cold, --warm, or both when neither is given."""
    either = options["cold"] or options["warm"]
    return tuple(m for m in CACHE_MODES if options[m] or not either)


def _budgets(path: str | None) -> list[budgetmod.Budget]:
    if not path:
        return []
    try:
        return budgetmod.load(path)
    except (OSError, ValueError) as exc:
        raise CommandError(f"--budget: {exc}") from exc


def _baseline(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"--compare: {exc}") from exc


def _commit() -> str | None:
    """The checked-out commit (short hash, "+" if the tree has changes), if any."""
    try:
        found = subprocess.run(
            ["git", "describe", "--always", "--dirty=+", "--abbrev=10"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


def _database_version() -> str | None:
    try:
        return ".".join(str(part) for part in connection.get_database_version())
    except Exception:  # a backend without it, or no connection: say nothing
        return None


def _meta(options: dict[str, Any], modes: tuple[str, ...]) -> dict:
    return {
        "generated": timezone.now().isoformat(timespec="seconds"),
        "commit": _commit(),
        "django": django.get_version(),
        "python": platform.python_version(),
        "debug": settings.DEBUG,
        "database": connection.vendor,
        "database_version": _database_version(),
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "repeat": options["repeat"] or "auto",
        "cache_modes": list(modes),
    }


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
            "--markdown",
            metavar="PATH",
            help="write the summary as a Markdown table (a pull-request comment)",
        )
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
            help="DESTRUCTIVE: reseed at each size (the apps' RESEED), report growth",
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
            help="diff against an earlier --json: query counts, and p50s that moved "
            "beyond the noise",
        )
        parser.add_argument(
            "--fail-on-regression",
            metavar="PCT",
            type=float,
            default=None,
            help="with --compare: exit 1 when a tuned scenario's queries grew or its "
            "p50 is slower by more than PCT percent and the runs' noise",
        )
        parser.add_argument("--list", action="store_true", help="list scenarios only")
        parser.add_argument(
            "--wide",
            action="store_true",
            help="every column of the table, however narrow the console (COLUMNS)",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        self.wide = options["wide"]
        self.console = report.console_for(self.stdout)
        self.declared = declarations()
        self.client = make_client()
        self.clear = functools.partial(clear_caches, self.declared.clear_cache)
        _check_options(options)
        modes = _modes(options)
        budgets = _budgets(options["budget"])
        sizes = _sizes(options["sizes"])
        if sizes:
            self._warn_reseed(sizes)
        else:
            self._check_data()

        baseline = _baseline(options["compare"]) if options["compare"] else None

        steps = self._measure_sizes(options, modes, sizes)
        if options["list"]:
            for name in self._chosen_operations(options):
                self.stdout.write(f"{name:32} write  (rolled back)")
            return
        last = steps[-1]
        if baseline is not None and options["scenario"]:
            current = {"scenarios": [r.as_json() for r in last.results]}
            baseline = comparemod.narrowed(baseline, current)
        confirm = self._retime_moved(last, baseline, options) if baseline else None
        breaches = budgetmod.check(
            [r.as_json() for r in last.results],
            budgets,
            timing=not options["no_timing_budgets"],
        )
        self._print_results(last, breaches)
        extra = self._extras(options, modes, steps)
        measured = self._operations(options)
        if measured:
            extra["operations"] = [result.as_json() for result in measured]
        doc = report.document(last.dataset, last.results, breaches, extra)
        regressions: list[dict] = []
        if baseline is not None:
            regressions = self._compare(doc, baseline, confirm, options)
        self._write(doc, options)
        self._enforce(budgets, breaches, regressions, options["fail_on_regression"])

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

    def _measure_sizes(
        self, options: dict[str, Any], modes: tuple[str, ...], sizes: list[int] | None
    ) -> list[Step]:
        """One step, or one per size after reseeding at it."""
        steps = []
        runs: Sequence[int | None] = sizes or [None]
        for size in runs:
            if size is not None:
                self._reseed(size)
            steps.append(Step(size, *self._measure(self.client, options, modes)))
        return steps

    def _scenarios(self, client: Client, patterns: list[str] | None) -> tuple:
        picks = Dataset(self.declared.picks)
        scenarios, notes = discover(client, self.declared, picks)
        scenarios = select(scenarios, patterns)
        if not scenarios and not operations.select(self.declared.operations, patterns):
            raise CommandError(
                "No scenario matches; run with --list to see the scenario names."
            )
        return scenarios, notes

    def _measure(
        self, client: Client, options: dict[str, Any], modes: tuple[str, ...]
    ) -> tuple[dict, list[Result], list[str]]:
        dataset = dataset_info(self.declared.dataset)
        scenarios, notes = self._scenarios(client, options["scenario"])
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
                clear=self.clear,
                advance=advance,
            )
        return dataset, results, notes

    def _chosen_operations(self, options: dict[str, Any]) -> dict:
        return operations.select(self.declared.operations, options["scenario"])

    def _operations(self, options: dict[str, Any]) -> list[operations.OperationResult]:
        """The declared write operations, each in a rolled-back transaction."""
        chosen = self._chosen_operations(options)
        if not chosen:
            return []
        self._say(f"Operations: {len(chosen)}, each rolled back", level=2)
        results = operations.measure(
            chosen, repeat=options["repeat"], timing=not options["no_timing"]
        )
        self._print(report.operations_table(results))
        self._print_lines(
            [("red", f"{r.name} failed: {r.error}") for r in results if r.error]
        )
        return results

    def _extras(
        self, options: dict[str, Any], modes: tuple[str, ...], steps: list[Step]
    ) -> dict:
        """The --json extras (meta, growth, plans, HTTP load), each also printed."""
        results = steps[-1].results
        extra: dict = {"meta": _meta(options, modes)}
        if steps[0].size is not None:
            extra["sizes"] = [
                {
                    "size": step.size,
                    "dataset": step.dataset,
                    "scenarios": [r.as_json() for r in step.results],
                }
                for step in steps
            ]
            self._print(report.sizes_table(steps))
        if options["explain"]:
            findings = explainmod.explain_results(results)
            extra["explain"] = [f.as_json() for f in findings]
            self._print_lines(report.explain_lines(findings, self.verbosity >= 2))
        if options["url"]:
            extra["http"] = self._load(options, results)
        return extra

    def _load(self, options: dict[str, Any], results: list[Result]) -> dict:
        url, concurrency = options["url"], options["concurrency"]
        scenarios: list[Scenario] = list(
            {r.scenario.key: r.scenario for r in results}.values()
        )
        self._say(
            f"Load: {len(scenarios)} scenarios x {options['duration']:g}s at "
            f"concurrency {concurrency} against {url}"
        )
        try:
            loads = load(
                url, scenarios, concurrency=concurrency, duration=options["duration"]
            )
        except Throttled as exc:
            hint = "; ".join(self.declared.load_test_hints) or (
                "lift its rate limits for the load test"
            )
            raise CommandError(
                f"the server throttles ({exc}): {hint}. A load test comes from one "
                "address, so a throttle would be all it measures."
            ) from exc
        rows = [load_result.as_json() for load_result in loads]
        generator = loads[0].generator if loads else "-"
        self._say(
            "Load generator: wrk"
            if generator == "wrk"
            else "Load generator: Python threads (install wrk for figures the "
            "client does not cap: apt-get install wrk)"
        )
        self._print(report.http_table(rows, results, url, concurrency))
        return {
            "url": url,
            "concurrency": concurrency,
            "duration_s": options["duration"],
            "generator": generator,
            "scenarios": rows,
        }

    def _retime_moved(
        self, step: Step, baseline: dict, options: dict[str, Any]
    ) -> dict[tuple[str, str, str], str]:
        """Time again, in place, every pair with a p50 beyond the noise against the
        baseline; return those first verdicts, which a change must repeat."""
        pct = min(comparemod.THRESHOLD_PCT, options["fail_on_regression"] or 100)
        doc = {"scenarios": [r.as_json() for r in step.results]}
        first = comparemod.moved(doc, baseline, pct)
        pairs: dict[tuple[str, str], list[Result]] = defaultdict(list)
        for result in step.results:
            if any(key[0::2] == (result.name, result.cache) for key in first):
                pairs[(result.name, result.cache)].append(result)
        if pairs:
            self._say(
                f"{len(first)} p50s moved beyond the noise against the baseline; "
                f"timing those {len(pairs)} scenarios again before believing it."
            )
        server = Server.like(self.client)
        for pair in pairs.values():
            time_pair(server, pair, options["repeat"], self.clear)
        return first

    def _compare(
        self,
        doc: dict,
        baseline: dict,
        confirm: dict[tuple[str, str, str], str] | None,
        options: dict[str, Any],
    ) -> list[dict]:
        """Print the changes against the baseline and add them to ``doc``; return
        the regressions ``--fail-on-regression`` fails on."""
        path, pct = options["compare"], options["fail_on_regression"]
        changes = comparemod.compare(doc, baseline, confirm=confirm)
        rows = comparemod.compared(doc, baseline)
        differ = comparemod.warnings(doc, baseline)
        found = comparemod.noise_of(doc, baseline)
        drift = comparemod.drift_warning(found)
        doc["compare"] = {
            "baseline": path,
            "changes": changes,
            "rows": rows,
            "warnings": differ,
            "drift": round(found.drift, 3),
            "drift_warning": drift,
            "scatter": round(found.scatter, 3),
            "threshold_pct": comparemod.THRESHOLD_PCT,
            "floor_ms": comparemod.FLOOR_MS,
        }
        if differ:
            self._print_lines(
                [
                    (
                        "yellow",
                        f"The runs differ ({'; '.join(differ)}): query counts compare, "
                        "timings hardly do.",
                    )
                ]
            )
        if drift:
            self._print_lines([("yellow", drift)])
        if any("metric" in change for change in changes):
            self._print(comparemod.table(changes, f"against {path}"))
        self._print_lines([("dim", line) for line in comparemod.membership(changes)])
        summary = comparemod.summary(changes, rows)
        self._print_lines([("yellow" if changes else "green", summary)])
        if pct is None:
            return []
        return comparemod.regressions(doc, baseline, pct, confirm)

    def _write(self, doc: dict, options: dict[str, Any]) -> None:
        if options["json"]:
            report.write_json(options["json"], doc)
            self._say(f"Wrote {options['json']}")
        if options["html"]:
            write_html(options["html"], doc)
            self._say(f"Wrote {options['html']}")
        if options["markdown"]:
            write_markdown(options["markdown"], doc)
            self._say(f"Wrote {options['markdown']}")

    def _enforce(
        self,
        budgets: list[budgetmod.Budget],
        breaches: list[budgetmod.Breach],
        regressions: list[dict],
        pct: float | None,
    ) -> None:
        """Exit status 1 (CommandError) on any budget breach or, with
        --fail-on-regression, any regression; each one also on stderr."""
        failures = [f"budget breach: {breach}" for breach in breaches] + [
            f"regression: {r['name']} [tuned, {r['cache']}] {r['metric']} "
            f"{r['before']} -> {r['after']}"
            + (f" (beyond {pct:g}% and ±{r['band_ms']:g} ms)" if "band_ms" in r else "")
            for r in regressions
        ]
        if failures:
            for failure in failures:
                self.stderr.write(failure)
            raise CommandError(
                f"{len(breaches)} budget breach(es), {len(regressions)} "
                "regression(s):\n" + "\n".join(f"  {f}" for f in failures)
            )
        if budgets and self.verbosity:
            self.stdout.write(self.style.SUCCESS("All budgets met."))

    # --- output -----------------------------------------------------------------

    def _print(self, renderable: object) -> None:
        if self.verbosity:
            self.console.print(renderable)

    def _print_lines(self, lines: list[tuple[str, str]]) -> None:
        """(style, text) pairs, as the report module builds them."""
        for style, line in lines if self.verbosity else ():
            self.console.print(Text(line, style=style))

    def _print_results(self, step: Step, breaches: list[budgetmod.Breach]) -> None:
        if not self.verbosity or not step.results:  # e.g. only operations selected
            return
        title = f"bench: {report.describe(step.dataset)}"
        table = report.build_table(
            step.results, breaches, title, console=self.console, wide=self.wide
        )
        if self.wide:  # wider than the console if need be: lines wrap, cells stay whole
            needed = report.natural_width(self.console, table)
            self.console.width = max(self.console.width, needed)
        self.console.print(table)
        self._print_lines(
            report.legend_lines(step.results, report.shown_columns(table))
        )
        self._print_lines(report.stream_lines(step.results))
        self._print_n_plus_one(step.results)
        errors = {(r.name, r.variant): r.error for r in step.results if r.error}
        self._print_lines(
            [("red", f"{n} [{v}] failed: {e}") for (n, v), e in errors.items()]
        )
        if settings.DEBUG:
            self._print_lines([("yellow", report.DEBUG_WARNING)])
        if self.verbosity >= 2:
            self._print_lines([("dim", f"note: {note}") for note in step.notes])
        self._print_lines([("bold red", f"BREACH {breach}") for breach in breaches])

    def _print_n_plus_one(self, results: list[Result]) -> None:
        lines = report.n_plus_one_lines(results)
        if not lines:
            return
        shown = lines if self.verbosity >= 2 else lines[:10]
        self._print_lines([("bold", "\nN+1 sites"), *shown])
        if len(shown) < len(lines):
            more = len(lines) - len(shown)
            self._print_lines([("dim", f"... {more} more with --verbosity 2")])
