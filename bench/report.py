"""What bench prints and writes: Rich tables and lines, and the JSON document. (The
HTML page is ``bench.html_report``, the Markdown one ``bench.markdown_report``, the
diff against a baseline ``bench.compare``.)"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from django.db import DEFAULT_DB_ALIAS, connections
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from bench.budgets import Breach
from bench.explain import Finding
from bench.operations import OperationResult
from bench.runner import CACHE_MODES, Result, Step


def describe(dataset: dict) -> str:
    """The declared counts, then the vendor: "6 books, 2 authors on sqlite"."""
    counts = ", ".join(
        f"{value:,} {name}" for name, value in dataset.items() if name != "database"
    )
    return f"{counts} on {dataset['database']}" if counts else dataset["database"]


def _group(result: Result) -> str:
    return result.scenario.group or result.scenario.route


def pairs(results: list[Result]) -> list[tuple[str, str, Result | None, Result | None]]:
    """(name, cache, tuned, naive) rows, grouped by endpoint in discovery order."""
    index: dict[tuple[str, str], dict[str, Result]] = defaultdict(dict)
    order: dict[str, list[str]] = defaultdict(list)
    for result in results:
        key = (result.name, result.cache)
        if not index[key]:
            names = order[_group(result)]
            if result.name not in names:
                names.append(result.name)
        index[key][result.variant] = result
    rows = []
    for names in order.values():
        for name in names:
            for cache in CACHE_MODES:
                found = index.get((name, cache))
                if found:
                    rows.append((name, cache, found.get("tuned"), found.get("naive")))
    return rows


def paired(rows: list[dict]) -> list[tuple[str, str, dict | None, dict | None]]:
    """``pairs()`` for --json rows: (name, cache, tuned, naive), grouped by endpoint."""
    index: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    order: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        names = order[row.get("group") or row.get("route") or row["name"]]
        if row["name"] not in names:
            names.append(row["name"])
        index[(row["name"], row["cache"])][row["variant"]] = row
    return [
        (name, cache, found.get("tuned"), found.get("naive"))
        for names in order.values()
        for name in names
        for cache in CACHE_MODES
        if (found := index.get((name, cache)))
    ]


def speedup(naive: float | None, tuned: float | None) -> float | None:
    """naive p50 / tuned p50, when both were timed."""
    return naive / tuned if naive and tuned else None


def ms(value: float | None) -> str:
    """A latency as the tables print it: one decimal below 100 ms."""
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ratio(naive: float | None, tuned: float | None) -> str:
    ratio = speedup(naive, tuned)
    return "-" if ratio is None else f"{ratio:.1f}×"


def kb(n: int) -> str:
    return f"{n / 1024:.1f}"


@dataclass(frozen=True)
class Column:
    """A results-table column; ``drop`` orders what goes first on a narrow console."""

    header: str
    justify: Literal["left", "right"] = "right"
    drop: int = 0  # 0: always shown; 1 goes first, then 2, ...

    @property
    def name(self) -> str:
        """The header on one line, without its tuned/naive note: "p95 ms"."""
        one_line = self.header.replace("\n", " ")
        return one_line.replace(" tuned/naive", "").replace(" tuned", "")


KEEP = 0
# The results table, left to right. Below the full width, the highest-numbered
# columns stay longest; names, queries, p50 and the speed-up always show, whole.
COLUMNS = {
    "scenario": Column("scenario", "left"),
    "cache": Column("cache", "left"),
    "status": Column("status", drop=3),  # kept whenever a status is not 200
    "queries": Column("queries\ntuned/naive"),
    "similar": Column("similar\ntuned/naive", drop=8),
    "duplicate": Column("duplicate\ntuned/naive", drop=4),
    "db_ms": Column("db ms\ntuned", drop=2),
    "p50": Column("p50 ms\ntuned/naive"),
    "p95": Column("p95 ms\ntuned/naive", drop=7),
    "p99": Column("p99 ms\ntuned", drop=1),
    "speedup": Column("speed-up\np50"),
    "entry_hits": Column("entry\nhits", drop=5),
    "kb": Column("KB\n(gzip)", drop=6),
}
DEFAULT_WIDTH = 200  # a console that is not a terminal and has no COLUMNS: a log
# How to read the table: always, then per column when that column is shown.
LEGEND = (
    "tuned / naive side by side (naive in yellow, a budget breach in red); "
    "~ = noisy (p95 > 2 x p50); speed-up = naive p50 / tuned p50."
)
COLUMN_LEGENDS = {
    "similar": (
        "similar = queries whose SQL another query of the request repeats with other "
        "parameters; duplicate = same SQL and same parameters. These are the debug "
        "toolbar's terms: every query of a repeated group counts (the JSON's "
        "duplicate_queries, which budgets cap, counts the repeats after the first)."
    ),
    "entry_hits": (
        "entry hits = cached entries found / looked for; state a cold cache keeps "
        "(a published version) is not an entry, so a cold row reads 0/n."
    ),
}
DEBUG_WARNING = (
    "DEBUG is on: every query is logged, so timings include debug overhead. Run with "
    "DEBUG=false for honest numbers."
)
Breached = set[tuple[str, str, str, str]]  # (name, variant, cache, metric)


def _cell(result: Result | None, metric: str, text: str, breached: Breached) -> Text:
    """One side of a tuned/naive cell: red on a breach, yellow when naive."""
    if result is None:
        return Text("-", style="dim")
    if (result.name, result.variant, result.cache, metric) in breached:
        return Text(text, style="bold red")
    return Text(text, style="yellow" if result.variant == "naive" else "")


def _pair(
    tuned: Result | None,
    naive: Result | None,
    metric: str,
    breached: Breached,
    show: Callable[[Result], str],
    *,
    noise: bool = False,
) -> Text:
    """``tuned / naive`` for one metric; ``noise`` marks noisy timings with ~."""
    parts: list[Text | tuple[str, str] | str] = []
    for result in (tuned, naive):
        if parts:
            parts.append(" / ")
        parts.append(_cell(result, metric, show(result) if result else "-", breached))
        if noise:
            parts.append(("~" if result and result.noisy else "", "yellow"))
    return Text.assemble(*parts)


def _status(tuned: Result | None, naive: Result | None) -> Text:
    both = [r for r in (tuned, naive) if r]
    if any(r.status != 200 for r in both):
        return Text("/".join(str(r.status) for r in both), style="red")
    return Text(str(both[0].status))


def _entry_hits(result: Result) -> str:
    return f"{result.cache_hits}/{result.cache_gets}" if result.cache_gets else "-"


def _cells(
    name: str,
    cache: str,
    tuned: Result | None,
    naive: Result | None,
    breached: Breached,
) -> dict[str, str | Text]:
    """One results-table row, every column: a scenario and cache mode, tuned beside
    naive."""
    base = tuned or naive
    assert base is not None
    # The budgets' max_duplicates caps duplicate_queries: its breach shows as similar.
    similar = _pair(
        tuned, naive, "duplicate_queries", breached, lambda r: str(r.similar_queries)
    )
    if tuned and tuned.n_plus_one:
        similar.stylize("bold red", 0, len(str(tuned.similar_queries)))
    return {
        "scenario": name,
        "cache": cache,
        "status": _status(tuned, naive),
        "queries": _pair(tuned, naive, "queries", breached, lambda r: str(r.queries)),
        "similar": similar,
        "duplicate": _pair(
            tuned,
            naive,
            "exact_duplicates",
            breached,
            lambda r: str(r.exact_duplicates),
        ),
        "db_ms": f"{tuned.db_ms:.1f}" if tuned else "-",
        "p50": _pair(
            tuned, naive, "p50_ms", breached, lambda r: ms(r.p50_ms), noise=True
        ),
        "p95": _pair(tuned, naive, "p95_ms", breached, lambda r: ms(r.p95_ms)),
        "p99": ms(tuned.p99_ms) if tuned else "-",
        "speedup": _ratio(
            naive.p50_ms if naive else None, tuned.p50_ms if tuned else None
        ),
        "entry_hits": _entry_hits(base),
        "kb": f"{kb(base.bytes)} ({kb(base.gzip_bytes)})",
    }


def _table(
    rows: list[dict[str, str | Text]],
    groups: list[str],
    columns: list[str],
    title: str,
) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for key in columns:
        column = COLUMNS[key]
        table.add_column(column.header, justify=column.justify, no_wrap=True)
    for i, (row, group) in enumerate(zip(rows, groups, strict=True)):
        if i and group != groups[i - 1]:
            table.add_section()
        table.add_row(*(row[key] for key in columns))
    return table


def natural_width(console: Console, table: Table) -> int:
    """The width ``table`` needs to show every cell whole."""
    options = console.options.update_width(10_000)
    return Measurement.get(console, options, table).maximum


def build_table(
    results: list[Result],
    breaches: list[Breach],
    title: str,
    *,
    console: Console | None = None,
    wide: bool = True,
) -> Table:
    """Tuned and naive side by side, one row per scenario and cache mode, a section
    per endpoint.

    Unless ``wide``, columns are dropped, least important first (``Column.drop``),
    until the table fits ``console``: rich would otherwise squeeze every column and
    cut names and numbers to "…". The status stays while any status is not 200.
    """
    breached = {(b.name, b.variant, b.cache, b.metric) for b in breaches}
    found = pairs(results)
    rows = [_cells(name, cache, t, n, breached) for name, cache, t, n in found]
    groups = [_group(t or n) for _, _, t, n in found]  # type: ignore[arg-type]
    columns = list(COLUMNS)
    table = _table(rows, groups, columns, title)
    if wide or console is None:
        return table
    errors = any(r.status != 200 for r in results)
    droppable = sorted(
        (c for c in columns if COLUMNS[c].drop and not (c == "status" and errors)),
        key=lambda c: COLUMNS[c].drop,
    )
    while droppable and natural_width(console, table) > console.width:
        columns.remove(droppable.pop(0))
        table = _table(rows, groups, columns, title)
    return table


def shown_columns(table: Table) -> list[str]:
    """The keys of ``COLUMNS`` that ``table`` shows."""
    headers = {str(column.header) for column in table.columns}
    return [key for key, column in COLUMNS.items() if column.header in headers]


def legend_lines(
    results: list[Result], shown: Sequence[str] = tuple(COLUMNS)
) -> list[tuple[str, str]]:
    """How to read the table (the ``shown`` columns), what a narrow console hid,
    and a warning when timings are noisy."""
    text = " ".join(
        [LEGEND]
        + [
            legend
            for key, legend in COLUMN_LEGENDS.items()
            if key in shown or (key == "similar" and "duplicate" in shown)
        ]
    )
    lines = [("dim", text)]
    hidden = [COLUMNS[key].name for key in COLUMNS if key not in shown]
    if hidden:
        note = f"Hidden to fit the console: {', '.join(hidden)} (--wide shows them)."
        lines.append(("dim", note))
    noisy = [r for r in results if r.noisy]
    if noisy:
        lines.append(
            (
                "yellow",
                f"{len(noisy)} of {len(results)} timings are noisy (~): rerun on a "
                "quiet machine or with a larger --repeat before trusting them.",
            )
        )
    lines.extend(database_lines(results))
    return lines


def database_lines(
    results: list[Result], configured: Collection[str] | None = None
) -> list[tuple[str, str]]:
    """Which database ran each scenario's queries, when there is a choice: more than
    one database ``configured`` (default: ``DATABASES``), or queries off the default.

    Runs are grouped by the aliases they used; the largest group is summed up, the
    others are named (a read that fell back to the primary stands out).
    """
    configured = list(connections) if configured is None else configured
    totals: Counter[str] = Counter()
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for result in results:
        totals.update(result.databases)
        if result.databases:
            label = f"{result.name} [{result.variant}, {result.cache}]"
            groups[tuple(sorted(result.databases))].append(label)
    if len(configured) < 2 and set(totals) <= {DEFAULT_DB_ALIAS}:
        return []
    ran = ", ".join(f"{alias} {count}" for alias, count in sorted(totals.items()))
    lines = [("dim", f"databases: queries in the audit pass by alias: {ran}")]
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))
    for rank, (aliases, labels) in enumerate(ordered):
        if rank == 0:
            other = " other" if len(ordered) > 1 else ""
            where = f"every{other} run with queries ({len(labels)})"
        else:
            where = ", ".join(labels[:8]) + (
                f" +{len(labels) - 8} more" if len(labels) > 8 else ""
            )
        lines.append(("dim", f"  {' + '.join(aliases)}: {where}"))
    return lines


@dataclass
class SiteGroup:
    """One N+1 site (a fingerprint from one place), merged across scenarios and
    cache modes: what the terminal prints as one entry and the HTML as one card."""

    variant: str
    names: list[str]
    counts: list[int]
    site: dict

    @property
    def times(self) -> str:
        low, high = min(self.counts), max(self.counts)
        return f"{low}x" if low == high else f"{low}-{high}x"

    @property
    def origin(self) -> str:
        origin = self.site["site"] or "?"
        if self.site.get("template"):
            origin += f" (template {self.site['template']})"
        return origin

    @property
    def sql(self) -> str:
        return self.site.get("summary") or self.site["fingerprint"]

    @property
    def hint(self) -> str:
        return self.site["hint"] or "no hint (not a relation lookup)"


def n_plus_one_groups(
    rows: Iterable[tuple[str, str, Iterable[dict]]],
) -> list[SiteGroup]:
    """Sites of ``(name, variant, n_plus_one)`` rows, merged: tuned ones (bugs)
    first, then naive ones (the baseline's known cost), by first scenario name."""
    groups: dict[tuple, SiteGroup] = {}
    for name, variant, sites in rows:
        for site in sites:
            key = (variant, site["fingerprint"], site["site"], site["hint"])
            group = groups.setdefault(key, SiteGroup(variant, [], [], site))
            if name not in group.names:
                group.names.append(name)
            group.counts.append(site["count"])
    return sorted(groups.values(), key=lambda g: (g.variant != "tuned", g.names[0]))


def n_plus_one_lines(results: list[Result]) -> list[tuple[str, str]]:
    """(style, text) per N+1 site (``n_plus_one_groups``): red when tuned, yellow
    when naive."""
    lines: list[tuple[str, str]] = []
    for group in n_plus_one_groups((r.name, r.variant, r.n_plus_one) for r in results):
        names = group.names
        where = ", ".join(names[:4]) + (
            f" +{len(names) - 4} more" if len(names) > 4 else ""
        )
        sql = group.sql if len(group.sql) <= 150 else group.sql[:147] + "..."
        lines.append(
            (
                "bold red" if group.variant == "tuned" else "yellow",
                f"[{group.variant}] {group.times} per request in {where}\n"
                f"    {sql}\n"
                f"    from {group.origin}\n"
                f"    fix: {group.hint}",
            )
        )
    return lines


def document(
    dataset: dict,
    results: list[Result],
    breaches: list[Breach],
    extra: dict | None = None,
) -> dict:
    """The --json document: the contract's keys, then extras."""
    doc = {
        "dataset": dataset,
        "scenarios": [r.as_json() for r in results],
        "breaches": [
            {
                "name": b.name,
                "variant": b.variant,
                "cache": b.cache,
                "metric": b.metric,
                "actual": b.actual,
                "limit": b.limit,
                "budget": b.rule,
            }
            for b in breaches
        ],
    }
    doc.update(extra or {})
    return doc


def write_json(path: str, doc: dict) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, default=str) + "\n")


def console_width(stream) -> int | None:
    """``COLUMNS`` when set, else the terminal's (None: rich asks it), else a log's."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return None if is_tty else DEFAULT_WIDTH


def console_for(stream) -> Console:
    """A Rich console on the command's stdout, as wide as ``console_width`` says."""
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(
        file=stream,
        force_terminal=None if is_tty else False,
        width=console_width(stream),
        highlight=False,
    )


def sizes_table(steps: Sequence[Step]) -> Table:
    """Cold queries and p50 of every scenario at each --sizes step."""
    table = Table(title="growth with data size (cold cache)", title_justify="left")
    table.add_column("scenario")
    table.add_column("variant")
    for step in steps:
        table.add_column(f"size {step.size:,}\nqueries / p50 ms", justify="right")
    cold = [
        {(r.name, r.variant): r for r in step.results if r.cache == "cold"}
        for step in steps
    ]
    keys = list(dict.fromkeys((r.name, r.variant) for r in steps[-1].results))
    for name, variant in keys:
        cells = [
            f"{found.queries} / {ms(found.p50_ms)}" if found else "-"
            for found in (by_key.get((name, variant)) for by_key in cold)
        ]
        style = "yellow" if variant == "naive" else None
        table.add_row(name, variant, *cells, style=style)
    return table


def _explain_status(finding: Finding) -> tuple[str, str]:
    if finding.flags:
        return "red", "; ".join(finding.flags)
    if finding.notes:
        return "yellow", "note: " + "; ".join(finding.notes)
    if finding.error:
        return "yellow", finding.error
    return "green", "ok"


def explain_lines(findings: list[Finding], verbose: bool) -> list[tuple[str, str]]:
    """A headline per finding; flagged ones (or all, ``verbose``) with their plan."""
    flagged = [f for f in findings if f.flags]
    lines = [
        (
            "bold red" if flagged else "bold green",
            f"\nEXPLAIN: {len(findings)} distinct queries of the tuned scenarios, "
            f"{len(flagged)} flagged",
        )
    ]
    for finding in findings:
        style, status = _explain_status(finding)
        if style == "green" and not verbose:
            names = ", ".join(finding.scenarios)
            names = names if len(names) <= 50 else names[:47] + "..."
            lines.append(("", f"  ok  {names}: {finding.headline}"))
            continue
        lines.append((style, f"  {status}"))
        lines.append(("dim", f"      {finding.fingerprint[:200]}"))
        lines.append(("dim", "      " + finding.plan.replace("\n", "\n      ")))
    return lines


def http_table(
    rows: list[dict], results: list[Result], url: str, concurrency: int
) -> Table:
    """``bench --url``: requests/s and latency per scenario, tuned/naive gain, and
    the in-process warm query count beside them."""
    queries = {(r.name, r.variant): r.queries for r in results if r.cache == "warm"}
    rps = {(row["name"], row["variant"]): row["rps"] for row in rows}
    table = Table(
        title=f"over HTTP: {url} (concurrency {concurrency})", title_justify="left"
    )
    for column in ("scenario", "variant"):
        table.add_column(column)
    for column in ("req/s", "p50 ms", "p95 ms", "tuned/naive\nreq/s", "errors"):
        table.add_column(column, justify="right")
    table.add_column("queries warm\n(in-process)", justify="right")
    for row in rows:
        naive_rps = rps.get((row["name"], "naive"))
        tuned = row["variant"] == "tuned"
        table.add_row(
            row["name"],
            row["variant"],
            f"{row['rps']:.0f}",
            ms(row["p50_ms"]),
            ms(row["p95_ms"]),
            f"{row['rps'] / naive_rps:.1f}×" if tuned and naive_rps else "",
            Text(str(row["errors"]), style="red" if row["errors"] else ""),
            str(queries.get((row["name"], row["variant"]), "-")),
            style=None if tuned else "yellow",
        )
    return table


def operations_table(results: list[OperationResult]) -> Table:
    """The declared write operations (rolled back): queries, rows, p50/p95, and each
    one's p50 against the fastest."""
    table = Table(
        title="write operations (each in a transaction bench rolls back)",
        title_justify="left",
    )
    table.add_column("operation")
    for column in ("queries", "rows", "p50 ms", "p95 ms", "× fastest", "runs"):
        table.add_column(column, justify="right")
    fastest = min((r.p50_ms for r in results if r.p50_ms), default=None)
    for result in results:
        p50 = result.p50_ms
        table.add_row(
            result.name,
            "-" if result.error else str(result.queries),
            "-" if result.rows is None else f"{result.rows:,}",
            ms(p50),
            ms(result.p95_ms),
            f"{p50 / fastest:.1f}" if p50 and fastest else "-",
            str(result.runs),
            style="red" if result.error else None,
        )
    return table


def stream_lines(results: list[Result]) -> list[tuple[str, str]]:
    """Streamed bodies: time to the first byte beside time to the last, which the
    table's p50 is (a streamed body is measured until it ends)."""
    lines = []
    for result in results:
        if result.ttfb_ms is None:
            continue
        lines.append(
            (
                "",
                f"streamed: {result.name} [{result.variant}, {result.cache}] first "
                f"byte p50 {ms(result.ttfb_ms)} ms, whole body p50 "
                f"{ms(result.p50_ms)} ms, {kb(result.bytes)} KB "
                f"({kb(result.gzip_bytes)} gzip)",
            )
        )
    return lines
