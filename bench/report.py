"""What bench prints and writes: the Rich table, the JSON document, the HTML report."""

from __future__ import annotations

import html
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


# --- HTML -------------------------------------------------------------------------

_COLOURS = {"tuned": "#2b8a3e", "naive": "#e8590c"}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 8px;
border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{
text-align:left}.bad{color:#c92a2a;font-weight:bold}.naive{color:#e8590c}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}
pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;font-size:12px}
svg text{font:11px system-ui,sans-serif}
"""


def _bar_chart(
    title: str, rows: list[tuple[str, float | None, float | None]], *, log: bool = False
) -> str:
    """Horizontal grouped bars, tuned above naive, with the value printed.

    ``log`` scales bar length by log10(1 + value): one slow page would otherwise
    flatten every other bar to a pixel.
    """
    if not rows:
        return ""
    import math

    label_w, bar_w, row_h = 260, 560, 30
    scale = (lambda v: math.log10(1 + v)) if log else (lambda v: v)
    peak = max((scale(v) for _, t, n in rows for v in (t, n) if v), default=1) or 1
    height = row_h * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
        f'height="{height}" role="img" aria-label="{html.escape(title)}">'
    ]
    for i, (label, tuned, naive) in enumerate(rows):
        y = 20 + i * row_h
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        for j, (variant, value) in enumerate((("tuned", tuned), ("naive", naive))):
            if value is None:
                continue
            width = max(1.0, bar_w * scale(value) / peak)
            yy = y + j * 12
            parts.append(
                f'<rect x="{label_w}" y="{yy}" width="{width:.1f}" height="11" '
                f'fill="{_COLOURS[variant]}"><title>{variant}: {value:g}</title></rect>'
                f'<text x="{label_w + width + 4:.1f}" y="{yy + 10}">{value:g}</text>'
            )
    parts.append("</svg>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts)


def _line_chart(title: str, series: dict[str, list[tuple[int, float]]]) -> str:
    """Lines over data size (log x); tuned solid, naive dashed."""
    import math

    points = [p for line in series.values() for p in line]
    if not points:
        return ""
    w, h, pad = 720, 320, 50
    xs = [math.log10(max(x, 1)) for x, _ in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y1 = max(y for _, y in points) or 1

    def sx(x: int) -> float:
        return pad + (w - 2 * pad) * (math.log10(max(x, 1)) - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return h - pad - (h - 2 * pad) * y / y1

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 260}" height="{h}">',
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" '
        'stroke="#999"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#999"/>',
        f'<text x="{pad - 4}" y="{pad}" text-anchor="end">{y1:g}</text>',
    ]
    for x in sorted({x for x, _ in points}):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{h - pad + 14}" text-anchor="middle">'
            f"{x:,}</text>"
        )
    palette = ["#1971c2", "#2b8a3e", "#e8590c", "#9c36b5", "#c92a2a", "#5c940d"]
    for i, (label, line) in enumerate(sorted(series.items())):
        colour = palette[(i // 2) % len(palette)]
        dash = ' stroke-dasharray="6 4"' if label.endswith("naive") else ""
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line))
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash}><title>{html.escape(label)}</title></polyline>'
        )
        parts.append(
            f'<text x="{w - pad + 10}" y="{pad + i * 14}" fill="{colour}">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return f"<h3>{html.escape(title)}</h3>" + "".join(parts)


def write_html(path: str, doc: dict) -> None:
    """One self-contained page: inline CSS and SVG, nothing fetched from anywhere."""
    rows = doc["scenarios"]
    data = doc["dataset"]
    by_key = {(r["name"], r["variant"], r["cache"]): r for r in rows}
    names = list(dict.fromkeys(r["name"] for r in rows))
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>bench</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>bench</h1>",
        f"<p>{html.escape(describe(data))}.</p>",
        "<p class='legend'>",
        *(f"<span style='background:{c}'></span>{v}" for v, c in _COLOURS.items()),
        "</p>",
    ]
    for cache in CACHE_MODES:
        out.append(f"<h2>{cache.capitalize()} cache</h2>")

        def series(metric: str, cache: str = cache) -> list:
            return [
                (
                    n,
                    (by_key.get((n, "tuned", cache)) or {}).get(metric),
                    (by_key.get((n, "naive", cache)) or {}).get(metric),
                )
                for n in names
                if (n, "tuned", cache) in by_key or (n, "naive", cache) in by_key
            ]

        out.append(
            _bar_chart(
                f"p50 latency (ms, log scale), {cache}", series("p50_ms"), log=True
            )
        )
        out.append(_bar_chart(f"queries per request, {cache}", series("queries")))
    if doc.get("sizes"):
        for metric, label in (("queries", "queries"), ("p50_ms", "p50 ms")):
            lines: dict[str, list] = defaultdict(list)
            for step in doc["sizes"]:
                for r in step["scenarios"]:
                    if r["cache"] == "cold" and r.get(metric) is not None:
                        lines[f"{r['name']} {r['variant']}"].append(
                            (step["size"], r[metric])
                        )
            out.append(_line_chart(f"{label} by data size (cold cache)", lines))
    out.append("<h2>All results</h2><table><tr>")
    columns = [
        "name",
        "variant",
        "cache",
        "status",
        "queries",
        "duplicate_queries",
        "db_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "hit_ratio",
        "bytes",
        "gzip_bytes",
    ]
    out.extend(f"<th>{c}</th>" for c in columns)
    out.append("</tr>")
    breached = {
        (b["name"], b["variant"], b["cache"], b["metric"]) for b in doc["breaches"]
    }
    for r in rows:
        out.append(f"<tr class='{r['variant']}'>")
        for c in columns:
            bad = (r["name"], r["variant"], r["cache"], c) in breached
            value = r.get(c)
            out.append(
                f"<td class='{'bad' if bad else ''}'>"
                f"{html.escape('-' if value is None else str(value))}</td>"
            )
        out.append("</tr>")
    out.append("</table>")
    if doc["breaches"]:
        out.append("<h2>Budget breaches</h2><ul>")
        out.extend(
            f"<li class='bad'>{html.escape(b['name'])} [{b['variant']}, {b['cache']}]: "
            f"{b['metric']} {b['actual']} &gt; {b['limit']}</li>"
            for b in doc["breaches"]
        )
        out.append("</ul>")
    sites = [
        (r, s) for r in rows for s in r.get("n_plus_one", []) if r["cache"] == "cold"
    ]
    if sites:
        out.append("<h2>N+1 sites (cold)</h2>")
        for r, s in sites:
            out.append(
                f"<pre>{html.escape(r['name'])} [{r['variant']}] {s['count']}x "
                f"{html.escape(s['fingerprint'])}\nfrom {html.escape(s['site'] or '?')}"
                f"\nfix: {html.escape(s['hint'] or '-')}</pre>"
            )
    if doc.get("explain"):
        out.append("<h2>EXPLAIN</h2>")
        for e in doc["explain"]:
            cls = "bad" if e["flags"] else ""
            out.append(
                f"<pre class='{cls}'>{html.escape(', '.join(e['scenarios']))}\n"
                f"{html.escape(e['fingerprint'])}\n{html.escape(e['plan'])}\n"
                f"{html.escape('; '.join(e['flags']) or 'ok')}</pre>"
            )
    if doc.get("http"):
        out.append("<h2>Over HTTP</h2><table><tr>")
        cols = ["name", "variant", "requests", "errors", "rps", "p50_ms", "p95_ms"]
        out.extend(f"<th>{c}</th>" for c in cols)
        out.append("</tr>")
        for r in doc["http"]["scenarios"]:
            out.append(
                "<tr>"
                + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in cols)
                + "</tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    Path(path).write_text("\n".join(out))


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
