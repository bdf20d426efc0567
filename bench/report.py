"""What bench prints and writes: Rich tables and lines, the JSON document, the diff
against a baseline. (The HTML page is ``bench.html_report``.)"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
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


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _ratio(naive: float | None, tuned: float | None) -> str:
    if not naive or not tuned:
        return "-"
    return f"{naive / tuned:.1f}×"


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}"


# (header, justify) of the results table; the first column does not wrap.
COLUMNS = (
    ("scenario", "left"),
    ("cache", "left"),
    ("status", "right"),
    ("queries\ntuned/naive", "right"),
    ("dups\ntuned/naive", "right"),
    ("db ms\ntuned", "right"),
    ("p50 ms\ntuned/naive", "right"),
    ("p95 ms\ntuned/naive", "right"),
    ("p99 ms\ntuned", "right"),
    ("speed-up\np50", "right"),
    ("cache\nhits", "right"),
    ("KB\n(gzip)", "right"),
)
LEGEND = (
    "queries/dups: tuned / naive (naive in yellow, budget breach in red). "
    "~ = noisy (p95 > 2 x p50). speed-up = naive p50 / tuned p50."
)
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


def _row(
    name: str,
    cache: str,
    tuned: Result | None,
    naive: Result | None,
    breached: Breached,
) -> list[str | Text]:
    """One results-table row: a scenario and cache mode, tuned beside naive."""
    base = tuned or naive
    dups = _pair(
        tuned, naive, "duplicate_queries", breached, lambda r: str(r.duplicate_queries)
    )
    if tuned and tuned.n_plus_one:
        dups.stylize("bold red", 0, len(str(tuned.duplicate_queries)))
    return [
        name,
        cache,
        _status(tuned, naive),
        _pair(tuned, naive, "queries", breached, lambda r: str(r.queries)),
        dups,
        f"{tuned.db_ms:.1f}" if tuned else "-",
        _pair(tuned, naive, "p50_ms", breached, lambda r: _ms(r.p50_ms), noise=True),
        _pair(tuned, naive, "p95_ms", breached, lambda r: _ms(r.p95_ms)),
        _ms(tuned.p99_ms) if tuned else "-",
        _ratio(naive and naive.p50_ms, tuned and tuned.p50_ms),
        "-" if base.hit_ratio is None else f"{base.hit_ratio:.0%}",
        f"{_kb(base.bytes)} ({_kb(base.gzip_bytes)})",
    ]


def build_table(results: list[Result], breaches: list[Breach], title: str) -> Table:
    """Tuned and naive side by side, one row per scenario and cache mode, a section
    per endpoint."""
    breached = {(b.name, b.variant, b.cache, b.metric) for b in breaches}
    table = Table(title=title, header_style="bold", title_justify="left")
    for i, (header, justify) in enumerate(COLUMNS):
        table.add_column(header, justify=justify, no_wrap=i == 0)
    last_group = None
    for name, cache, tuned, naive in pairs(results):
        group = _group(tuned or naive)
        if last_group is not None and group != last_group:
            table.add_section()
        last_group = group
        table.add_row(*_row(name, cache, tuned, naive, breached))
    return table


def legend_lines(results: list[Result]) -> list[tuple[str, str]]:
    """How to read the table, and a warning when timings are noisy."""
    lines = [("dim", LEGEND)]
    noisy = [r for r in results if r.noisy]
    if noisy:
        lines.append(
            (
                "yellow",
                f"{len(noisy)} of {len(results)} timings are noisy (~): rerun on a "
                "quiet machine or with a larger --repeat before trusting them.",
            )
        )
    return lines


def n_plus_one_lines(results: list[Result]) -> list[tuple[str, str]]:
    """(style, text) per N+1 site, merged across scenarios and cache modes.

    Tuned sites (bugs) come first in red, naive ones (the baseline's known cost)
    follow in yellow.
    """
    groups: dict[tuple, dict] = {}
    for result in results:
        for site in result.n_plus_one:
            key = (result.variant, site["fingerprint"], site["site"], site["hint"])
            group = groups.setdefault(key, {"names": [], "counts": [], "site": site})
            if result.name not in group["names"]:
                group["names"].append(result.name)
            group["counts"].append(site["count"])
    lines: list[tuple[str, str]] = []
    for (variant, _, _, _), group in sorted(
        groups.items(), key=lambda item: (item[0][0] != "tuned", item[1]["names"][0])
    ):
        site = group["site"]
        low, high = min(group["counts"]), max(group["counts"])
        times = f"{low}x" if low == high else f"{low}-{high}x"
        names = group["names"]
        where = ", ".join(names[:4]) + (
            f" +{len(names) - 4} more" if len(names) > 4 else ""
        )
        origin = site["site"] or "?"
        if site.get("template"):
            origin += f" (template {site['template']})"
        sql = site.get("summary") or site["fingerprint"]
        sql = sql if len(sql) <= 150 else sql[:147] + "..."
        lines.append(
            (
                "bold red" if variant == "tuned" else "yellow",
                f"[{variant}] {times} per request in {where}\n"
                f"    {sql}\n"
                f"    from {origin}\n"
                f"    fix: {site['hint'] or 'no hint (not a relation lookup)'}",
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


def console_for(stream, width: int = 160) -> Console:
    """A Rich console on the command's stdout; wide when it is not a terminal."""
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(
        file=stream,
        force_terminal=None if is_tty else False,
        width=None if is_tty else width,
        highlight=False,
    )


def _changes(old: dict, new: dict, slower: float) -> list[dict]:
    """One scenario's changes: counts that moved, a p50 beyond the ``slower`` ratio."""
    changes = []
    for metric in ("queries", "duplicate_queries"):
        if new[metric] != old[metric]:
            grew = new[metric] > old[metric]
            changes.append({"change": "more" if grew else "fewer", "metric": metric})
    if old.get("p50_ms") and new.get("p50_ms"):
        ratio = new["p50_ms"] / old["p50_ms"]
        if ratio > slower or ratio < 1 / slower:
            change = "slower" if ratio > 1 else "faster"
            changes.append({"change": change, "metric": "p50_ms"})
    for change in changes:
        change.update(before=old[change["metric"]], after=new[change["metric"]])
    return changes


def compare(doc: dict, baseline: dict, *, slower: float = 1.2) -> list[dict]:
    """What changed against an earlier --json: query counts, duplicates, p50.

    A query or duplicate count that grows is a regression whatever the machine; a
    p50 more than ``slower`` times the baseline's is reported as slower (timings are
    only comparable on the same machine and data).
    """
    before = {(r["name"], r["variant"], r["cache"]): r for r in baseline["scenarios"]}
    after = {(r["name"], r["variant"], r["cache"]): r for r in doc["scenarios"]}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        row = dict(zip(("name", "variant", "cache"), key, strict=True))
        if old is None or new is None:
            changes.append({**row, "change": "added" if old is None else "removed"})
            continue
        changes.extend({**row, **change} for change in _changes(old, new, slower))
    return changes


def compare_lines(changes: list[dict]) -> list[tuple[str, str]]:
    """(style, text) per change against the baseline; a tuned regression is red."""
    if not changes:
        return [("green", "No change against the baseline.")]
    lines = [("bold", "\nAgainst the baseline")]
    for change in changes:
        label = f"{change['name']} [{change['variant']}, {change['cache']}]"
        if "metric" not in change:
            lines.append(("dim", f"  {change['change']}: {label}"))
            continue
        bad = change["change"] in ("more", "slower") and change["variant"] == "tuned"
        lines.append(
            (
                "red" if bad else "green",
                f"  {change['change']}: {label} {change['metric']} "
                f"{change['before']} -> {change['after']}",
            )
        )
    return lines


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
            f"{found.queries} / {_ms(found.p50_ms)}" if found else "-"
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
            _ms(row["p50_ms"]),
            _ms(row["p95_ms"]),
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
            _ms(p50),
            _ms(result.p95_ms),
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
                f"byte p50 {_ms(result.ttfb_ms)} ms, whole body p50 "
                f"{_ms(result.p50_ms)} ms, {_kb(result.bytes)} KB "
                f"({_kb(result.gzip_bytes)} gzip)",
            )
        )
    return lines
