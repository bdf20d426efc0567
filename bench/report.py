"""What bench prints and writes: the Rich table, the JSON document, the HTML report."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.budgets import Breach
from bench.runner import CACHE_MODES, Result


def describe(dataset: dict) -> str:
    """ "6 books, 2 authors, 12 reviews on sqlite": the declared counts, the vendor."""
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


def build_table(results: list[Result], breaches: list[Breach], title: str) -> Table:
    """Tuned and naive side by side, one row per scenario and cache mode."""
    breached = {(b.name, b.variant, b.cache, b.metric) for b in breaches}

    def cell(result: Result | None, metric: str, text: str) -> Text:
        if result is None:
            return Text("-", style="dim")
        key = (result.name, result.variant, result.cache, metric)
        if key in breached:
            return Text(text, style="bold red")
        if result.variant == "naive":
            return Text(text, style="yellow")
        return Text(text)

    table = Table(title=title, header_style="bold", title_justify="left")
    table.add_column("scenario", no_wrap=True)
    table.add_column("cache")
    table.add_column("status", justify="right")
    table.add_column("queries\ntuned/naive", justify="right")
    table.add_column("dups\ntuned/naive", justify="right")
    table.add_column("db ms\ntuned", justify="right")
    table.add_column("p50 ms\ntuned/naive", justify="right")
    table.add_column("p95 ms\ntuned/naive", justify="right")
    table.add_column("p99 ms\ntuned", justify="right")
    table.add_column("speed-up\np50", justify="right")
    table.add_column("cache\nhits", justify="right")
    table.add_column("KB\n(gzip)", justify="right")

    last_group = None
    for name, cache, tuned, naive in pairs(results):
        any_result = tuned or naive
        group = _group(any_result)
        if last_group is not None and group != last_group:
            table.add_section()
        last_group = group
        status = Text(str(any_result.status))
        if any(r and r.status != 200 for r in (tuned, naive)):
            status = Text(
                "/".join(str(r.status) for r in (tuned, naive) if r), style="red"
            )
        queries = Text.assemble(
            cell(tuned, "queries", str(tuned.queries) if tuned else "-"),
            " / ",
            cell(naive, "queries", str(naive.queries) if naive else "-"),
        )
        dups = Text.assemble(
            cell(
                tuned,
                "duplicate_queries",
                str(tuned.duplicate_queries) if tuned else "-",
            ),
            " / ",
            cell(
                naive,
                "duplicate_queries",
                str(naive.duplicate_queries) if naive else "-",
            ),
        )
        if tuned and tuned.n_plus_one:
            dups.stylize("bold red", 0, len(str(tuned.duplicate_queries)))
        p50 = Text.assemble(
            cell(tuned, "p50_ms", _ms(tuned.p50_ms) if tuned else "-"),
            ("~" if tuned and tuned.noisy else "", "yellow"),
            " / ",
            cell(naive, "p50_ms", _ms(naive.p50_ms) if naive else "-"),
            ("~" if naive and naive.noisy else "", "yellow"),
        )
        p95 = Text.assemble(
            cell(tuned, "p95_ms", _ms(tuned.p95_ms) if tuned else "-"),
            " / ",
            cell(naive, "p95_ms", _ms(naive.p95_ms) if naive else "-"),
        )
        base = tuned or naive
        hits = "-" if base.hit_ratio is None else f"{base.hit_ratio:.0%}"
        table.add_row(
            name,
            cache,
            status,
            queries,
            dups,
            f"{tuned.db_ms:.1f}" if tuned else "-",
            p50,
            p95,
            _ms(tuned.p99_ms) if tuned else "-",
            _ratio(naive and naive.p50_ms, tuned and tuned.p50_ms),
            hits,
            f"{_kb(base.bytes)} ({_kb(base.gzip_bytes)})",
        )
    return table


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
        name, variant, cache = key
        row = {"name": name, "variant": variant, "cache": cache}
        if old is None or new is None:
            changes.append({**row, "change": "added" if old is None else "removed"})
            continue
        for metric in ("queries", "duplicate_queries"):
            if new[metric] != old[metric]:
                changes.append(
                    {
                        **row,
                        "change": "more" if new[metric] > old[metric] else "fewer",
                        "metric": metric,
                        "before": old[metric],
                        "after": new[metric],
                    }
                )
        if old.get("p50_ms") and new.get("p50_ms"):
            ratio = new["p50_ms"] / old["p50_ms"]
            if ratio > slower or ratio < 1 / slower:
                changes.append(
                    {
                        **row,
                        "change": "slower" if ratio > 1 else "faster",
                        "metric": "p50_ms",
                        "before": old["p50_ms"],
                        "after": new["p50_ms"],
                    }
                )
    return changes
