"""``bench --html``: one self-contained page rendered from ``bench/report.html``.

The template does the markup (and the escaping); this module turns the --json
document into what it shows: table rows, and chart geometry computed here so that the
SVG in the template is plain coordinates. Nothing is fetched: CSS and SVG are inline.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.template.loader import render_to_string

from bench.report import describe
from bench.runner import CACHE_MODES

COLOURS = {"tuned": "#2b8a3e", "naive": "#e8590c"}
PALETTE = ("#1971c2", "#2b8a3e", "#e8590c", "#9c36b5", "#c92a2a", "#5c940d")
COLUMNS = (
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
)
HTTP_COLUMNS = ("name", "variant", "requests", "errors", "rps", "p50_ms", "p95_ms")

# Bar chart geometry: label column, longest bar, one row per scenario.
LABEL_W, BAR_W, ROW_H = 260, 560, 30
# Line chart geometry: plot size and padding.
PLOT_W, PLOT_H, PAD = 720, 320, 50


@dataclass
class Bar:
    variant: str
    colour: str
    value: str  # printed after the bar
    y: int
    width: str
    text_x: str
    text_y: int


@dataclass
class BarRow:
    label: str
    label_y: int
    bars: list[Bar] = field(default_factory=list)


@dataclass
class BarChart:
    title: str
    width: int
    height: int
    rows: list[BarRow]
    label_x: int = LABEL_W - 6  # labels end here
    bar_x: int = LABEL_W  # bars start here


@dataclass
class Line:
    label: str
    colour: str
    dashed: bool
    points: str  # "x,y x,y ..." for <polyline>
    legend_y: int


@dataclass
class LineChart:
    title: str
    y_max: str  # the value at the top of the y axis
    ticks: list[tuple[str, str]]  # (x, label) under the x axis
    lines: list[Line]
    width: int = PLOT_W + 260  # room for the legend on the right
    height: int = PLOT_H
    left: int = PAD
    top: int = PAD
    right: int = PLOT_W - PAD
    bottom: int = PLOT_H - PAD
    y_max_x: int = PAD - 4
    tick_y: int = PLOT_H - PAD + 14
    legend_x: int = PLOT_W - PAD + 10


def bar_chart(
    title: str, rows: list[tuple[str, float | None, float | None]], *, log: bool = False
) -> BarChart | None:
    """Horizontal grouped bars, tuned above naive, with the value printed.

    ``log`` scales bar length by log10(1 + value): one slow page would otherwise
    flatten every other bar to a pixel.
    """
    if not rows:
        return None
    scale: Callable[[float], float] = (lambda v: math.log10(1 + v)) if log else float
    values = [v for _, tuned, naive in rows for v in (tuned, naive) if v]
    peak = max((scale(v) for v in values), default=1) or 1
    chart_rows = []
    for i, (label, tuned, naive) in enumerate(rows):
        top = 20 + i * ROW_H
        row = BarRow(label, top + 14)
        for j, (variant, value) in enumerate((("tuned", tuned), ("naive", naive))):
            if value is None:
                continue
            width = max(1.0, BAR_W * scale(value) / peak)
            y = top + j * 12
            text_x = f"{LABEL_W + width + 4:.1f}"
            colour = COLOURS[variant]
            row.bars.append(
                Bar(variant, colour, f"{value:g}", y, f"{width:.1f}", text_x, y + 10)
            )
        chart_rows.append(row)
    return BarChart(title, LABEL_W + BAR_W + 90, ROW_H * len(rows) + 30, chart_rows)


def line_chart(
    title: str, series: dict[str, list[tuple[int, float]]]
) -> LineChart | None:
    """Lines over data size (log x); tuned solid, naive dashed."""
    points = [p for line in series.values() for p in line]
    if not points:
        return None
    logs = [math.log10(max(x, 1)) for x, _ in points]
    x0 = min(logs)
    x1 = max(logs) if max(logs) > x0 else x0 + 1
    y1 = max(y for _, y in points) or 1

    def sx(x: int) -> float:
        return PAD + (PLOT_W - 2 * PAD) * (math.log10(max(x, 1)) - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return PLOT_H - PAD - (PLOT_H - 2 * PAD) * y / y1

    lines = []
    for i, (label, line) in enumerate(sorted(series.items())):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line))
        colour = PALETTE[(i // 2) % len(PALETTE)]
        lines.append(Line(label, colour, label.endswith("naive"), coords, PAD + i * 14))
    ticks = [(f"{sx(x):.1f}", f"{x:,}") for x in sorted({x for x, _ in points})]
    return LineChart(title, f"{y1:g}", ticks, lines)


def _cache_charts(rows: list[dict]) -> list[dict]:
    """Per cache mode: p50 (log scale) and queries, tuned against naive."""
    by_key = {(r["name"], r["variant"], r["cache"]): r for r in rows}
    names = list(dict.fromkeys(r["name"] for r in rows))
    sections = []
    for cache in CACHE_MODES:

        def series(metric: str, cache: str = cache) -> list:
            return [
                (
                    name,
                    by_key.get((name, "tuned", cache), {}).get(metric),
                    by_key.get((name, "naive", cache), {}).get(metric),
                )
                for name in names
                if (name, "tuned", cache) in by_key or (name, "naive", cache) in by_key
            ]

        charts = [
            bar_chart(
                f"p50 latency (ms, log scale), {cache}", series("p50_ms"), log=True
            ),
            bar_chart(f"queries per request, {cache}", series("queries")),
        ]
        sections.append({"cache": cache, "charts": [c for c in charts if c]})
    return sections


def _growth_charts(sizes: list[dict]) -> list[LineChart]:
    """With --sizes: queries and p50 of each cold scenario against the size."""
    charts = []
    for metric, label in (("queries", "queries"), ("p50_ms", "p50 ms")):
        lines: dict[str, list] = defaultdict(list)
        for step in sizes:
            for r in step["scenarios"]:
                if r["cache"] == "cold" and r.get(metric) is not None:
                    lines[f"{r['name']} {r['variant']}"].append(
                        (step["size"], r[metric])
                    )
        chart = line_chart(f"{label} by data size (cold cache)", lines)
        if chart:
            charts.append(chart)
    return charts


def _result_rows(doc: dict) -> list[dict]:
    """Every result with its cells; a cell that breached a budget is marked."""
    breached = {
        (b["name"], b["variant"], b["cache"], b["metric"]) for b in doc["breaches"]
    }
    return [
        {
            "variant": r["variant"],
            "cells": [
                {
                    "value": "-" if r.get(c) is None else r[c],
                    "bad": (r["name"], r["variant"], r["cache"], c) in breached,
                }
                for c in COLUMNS
            ],
        }
        for r in doc["scenarios"]
    ]


def context(doc: dict) -> dict:
    """What ``bench/report.html`` shows, from a --json document."""
    rows = doc["scenarios"]
    http = doc.get("http")
    return {
        "dataset": describe(doc["dataset"]),
        "colours": COLOURS,
        "sections": _cache_charts(rows),
        "growth": _growth_charts(doc.get("sizes") or []),
        "columns": COLUMNS,
        "rows": _result_rows(doc),
        "breaches": doc["breaches"],
        "sites": [
            {"result": r, "site": s}
            for r in rows
            if r["cache"] == "cold"
            for s in r.get("n_plus_one", [])
        ],
        "explain": doc.get("explain") or [],
        "http_columns": HTTP_COLUMNS,
        "http_rows": [
            [r[c] for c in HTTP_COLUMNS] for r in (http or {}).get("scenarios", [])
        ],
    }


def write_html(path: str, doc: dict) -> None:
    """One self-contained page: inline CSS and SVG, nothing fetched from anywhere."""
    Path(path).write_text(render_to_string("bench/report.html", context(doc)))
