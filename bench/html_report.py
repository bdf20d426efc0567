"""``bench --html``: one self-contained page rendered from ``bench/report.html``.

The template does the markup (and the escaping); this module turns the --json
document into what it shows: the run's conditions, table rows with human headers,
and chart geometry computed here so that the SVG in the template is plain
coordinates. Nothing is fetched: CSS and SVG are inline. Charts draw in a fixed
``viewBox`` and scale to the page, so the report reads on a 390 px phone too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.template.loader import render_to_string

from bench.compare import metric_name
from bench.report import (
    describe,
    kb,
    ms,
    n_plus_one_groups,
    paired,
    speedup,
)
from bench.runner import CACHE_MODES

COLOURS = {"tuned": "#2b8a3e", "naive": "#e8590c"}
PALETTE = ("#1971c2", "#2b8a3e", "#e8590c", "#9c36b5", "#c92a2a", "#5c940d")
LADDER = "ladder."  # scenarios named ladder.<what>.<rung>: the optimisation ladder

RESULT_HEADERS = (
    "Scenario",
    "Cache",
    "Status",
    "Queries (tuned / naive)",
    "Similar (tuned / naive)",
    "Duplicate (tuned / naive)",
    "DB ms (tuned)",
    "p50 ms (tuned / naive)",
    "p95 ms (tuned / naive)",
    "p99 ms (tuned)",
    "Speed-up (naive p50 / tuned p50)",
    "Entry hits",
    "KB (gzip)",
)
LADDER_HEADERS = (
    "Rung",
    "Cache",
    "Queries",
    "p50 ms",
    "p95 ms",
    "KB (gzip)",
    "Speed-up vs first rung",
    "vs previous rung",
)
HTTP_HEADERS = (
    ("name", "Scenario"),
    ("variant", "Variant"),
    ("requests", "Requests"),
    ("errors", "Errors"),
    ("rps", "Requests/s"),
    ("p50_ms", "p50 ms"),
    ("p95_ms", "p95 ms"),
)

# Chart geometry, in viewBox units (the SVG scales to the page's width).
WIDTH = 520
BAR_X, BAR_W, ROW_H, BAR_H = 8, 400, 52, 12
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_H = 64, 470, 16, 240


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
class Tick:
    x: str
    label: str


@dataclass
class BarChart:
    title: str
    unit: str  # the axis label: what the bars measure, with the unit
    height: int
    rows: list[BarRow]
    axis_y: int
    ticks: list[Tick]
    width: int = WIDTH
    bar_x: int = BAR_X
    axis_right: int = BAR_X + BAR_W

    @property
    def tick_y(self) -> int:
        return self.axis_y + 16

    @property
    def unit_y(self) -> int:
        return self.axis_y + 36

    @property
    def unit_x(self) -> int:
        return BAR_X + BAR_W // 2


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
    x_unit: str
    y_unit: str
    x_ticks: list[Tick]
    y_ticks: list[tuple[str, str]]  # (y, label) beside the y axis
    lines: list[Line]
    height: int
    width: int = WIDTH
    left: int = PLOT_LEFT
    right: int = PLOT_RIGHT
    top: int = PLOT_TOP
    bottom: int = PLOT_TOP + PLOT_H

    @property
    def x_tick_y(self) -> int:
        return self.bottom + 16

    @property
    def x_unit_y(self) -> int:
        return self.bottom + 36

    @property
    def middle_x(self) -> int:
        return (self.left + self.right) // 2

    @property
    def middle_y(self) -> int:
        return (self.top + self.bottom) // 2


def nice_ticks(peak: float, count: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 x 10^n) up to ``peak``."""
    if peak <= 0:
        return [0.0]
    raw = peak / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(peak / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def bar_chart(
    title: str,
    unit: str,
    rows: list[tuple[str, float | None, float | None]],
    *,
    log: bool = False,
) -> BarChart | None:
    """Horizontal grouped bars under each label, tuned above naive, value printed,
    and an x axis with ticks and ``unit``.

    ``log`` scales bar length by log10(1 + value): one slow page would otherwise
    flatten every other bar to a pixel.
    """
    if not rows:
        return None
    scale: Callable[[float], float] = (lambda v: math.log10(1 + v)) if log else float
    values = [v for _, tuned, naive in rows for v in (tuned, naive) if v]
    top_value = max(values, default=1.0)
    peak = scale(top_value) or 1.0
    chart_rows = []
    for i, (label, tuned, naive) in enumerate(rows):
        top = 8 + i * ROW_H
        row = BarRow(label, top + 13)
        for j, (variant, value) in enumerate((("tuned", tuned), ("naive", naive))):
            if value is None:
                continue
            width = max(1.0, BAR_W * scale(value) / peak)
            y = top + 19 + j * (BAR_H + 2)
            row.bars.append(
                Bar(
                    variant,
                    COLOURS[variant],
                    f"{value:g}",
                    y,
                    f"{width:.1f}",
                    f"{BAR_X + width + 4:.1f}",
                    y + BAR_H - 2,
                )
            )
        chart_rows.append(row)
    if log and top_value >= 1:
        # Decades; 1 sits too close to 0 to label unless nothing reaches 10.
        first = 0 if top_value < 10 else 1
        marks = [0.0] + [10.0**k for k in range(first, int(math.log10(top_value)) + 1)]
    else:
        marks = nice_ticks(top_value)
    ticks = [
        Tick(f"{BAR_X + BAR_W * scale(t) / peak:.1f}", _label(t))
        for t in marks
        if t <= top_value
    ]
    axis_y = 8 + ROW_H * len(rows) + 4
    return BarChart(title, unit, axis_y + 46, chart_rows, axis_y, ticks)


def line_chart(
    title: str, y_unit: str, x_unit: str, series: dict[str, list[tuple[int, float]]]
) -> LineChart | None:
    """Lines over data size (log x), axes with ticks and units, the legend below;
    tuned solid, naive dashed."""
    points = [p for line in series.values() for p in line]
    if not points:
        return None
    logs = [math.log10(max(x, 1)) for x, _ in points]
    x0 = min(logs)
    x1 = max(logs) if max(logs) > x0 else x0 + 1
    y_ticks = nice_ticks(max(y for _, y in points))
    y1 = max(y_ticks[-1], max(y for _, y in points)) or 1
    bottom = PLOT_TOP + PLOT_H

    def sx(x: int) -> float:
        return PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (math.log10(max(x, 1)) - x0) / (
            x1 - x0
        )

    def sy(y: float) -> float:
        return bottom - PLOT_H * y / y1

    legend_top = bottom + 60
    lines = []
    for i, (label, line) in enumerate(sorted(series.items())):
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line))
        colour = PALETTE[(i // 2) % len(PALETTE)]
        dashed = label.endswith("naive")
        lines.append(Line(label, colour, dashed, coords, legend_top + i * 18))
    x_ticks = [Tick(f"{sx(x):.1f}", f"{x:,}") for x in sorted({x for x, _ in points})]
    return LineChart(
        title,
        x_unit,
        y_unit,
        x_ticks,
        [(f"{sy(t):.1f}", _label(t)) for t in y_ticks],
        lines,
        height=legend_top + 18 * len(lines),
    )


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
                f"p50 latency, {cache} cache",
                "p50 latency, ms (log scale)",
                series("p50_ms"),
                log=True,
            ),
            bar_chart(
                f"Queries per request, {cache} cache",
                "SQL queries per request",
                series("queries"),
            ),
        ]
        sections.append({"cache": cache, "charts": [c for c in charts if c]})
    return sections


def _growth_charts(sizes: list[dict]) -> list[LineChart]:
    """With --sizes: queries and p50 of each cold scenario against the size."""
    charts = []
    for metric, title, unit in (
        ("queries", "Queries by data size (cold cache)", "SQL queries per request"),
        ("p50_ms", "p50 latency by data size (cold cache)", "p50 latency, ms"),
    ):
        lines: dict[str, list] = defaultdict(list)
        for step in sizes:
            for r in step["scenarios"]:
                if r["cache"] == "cold" and r.get(metric) is not None:
                    lines[f"{r['name']} {r['variant']}"].append(
                        (step["size"], r[metric])
                    )
        chart = line_chart(title, unit, "data size (--sizes, log scale)", lines)
        if chart:
            charts.append(chart)
    return charts


def _cell(text: object, *, bad: bool = False, naive: bool = False) -> dict:
    return {"text": text, "bad": bad, "naive": naive}


def _pair(
    tuned: dict | None,
    naive: dict | None,
    metric: str,
    breached: set,
    show: Callable[[dict], str],
) -> list[dict]:
    """A tuned / naive cell as two parts, each marked when it breached a budget."""
    parts = []
    for row in (tuned, naive):
        if row is None:
            parts.append(_cell("-"))
            continue
        key = (row["name"], row["variant"], row["cache"], metric)
        parts.append(
            _cell(show(row), bad=key in breached, naive=row["variant"] == "naive")
        )
    return parts


def _result_rows(doc: dict) -> list[dict]:
    """The results table: one row per scenario and cache mode, tuned beside naive."""
    breached = {
        (b["name"], b["variant"], b["cache"], b["metric"]) for b in doc["breaches"]
    }
    rows = []
    for name, cache, tuned, naive in paired(doc["scenarios"]):
        base = tuned or naive
        assert base is not None
        ratio = speedup(
            naive["p50_ms"] if naive else None, tuned["p50_ms"] if tuned else None
        )
        statuses = {r["status"] for r in (tuned, naive) if r}
        rows.append(
            {
                "name": name,
                "cache": cache,
                "status": _cell(
                    " / ".join(str(s) for s in sorted(statuses)),
                    bad=statuses != {200},
                ),
                "pairs": [
                    _pair(tuned, naive, "queries", breached, lambda r: r["queries"]),
                    _pair(
                        tuned,
                        naive,
                        "duplicate_queries",
                        breached,
                        lambda r: r.get("similar_queries", "-"),
                    ),
                    _pair(
                        tuned,
                        naive,
                        "exact_duplicates",
                        breached,
                        lambda r: r.get("exact_duplicates", "-"),
                    ),
                ],
                "db_ms": f"{tuned['db_ms']:.1f}" if tuned else "-",
                "timings": [
                    _pair(tuned, naive, "p50_ms", breached, lambda r: ms(r["p50_ms"])),
                    _pair(tuned, naive, "p95_ms", breached, lambda r: ms(r["p95_ms"])),
                ],
                "p99": ms(tuned.get("p99_ms")) if tuned else "-",
                "speedup": "-" if ratio is None else f"{ratio:.1f}×",
                "hits": (
                    f"{base['cache_hits']}/{base['cache_gets']}"
                    if base.get("cache_gets")
                    else "-"
                ),
                "kb": f"{kb(base['bytes'])} ({kb(base['gzip_bytes'])})",
            }
        )
    return rows


def _ladders(rows: list[dict]) -> list[dict]:
    """The optimisation ladder(s): ``ladder.<what>.<rung>`` rows in the order the
    run met them (rung order), each against the first rung and the one before."""
    ladders: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if not row["name"].startswith(LADDER):
            continue
        what, _, rung = row["name"][len(LADDER) :].rpartition(".")
        ladders[what or rung][row["cache"]].append({**row, "rung": rung})
    out = []
    for what, by_cache in ladders.items():
        table = []
        for cache, rungs in by_cache.items():
            first: float | None = None
            previous: float | None = None
            for rung in rungs:
                p50 = rung.get("p50_ms")
                vs_first = speedup(first, p50) if first else None
                vs_previous = speedup(previous, p50) if previous else None
                table.append(
                    [
                        rung["rung"],
                        cache,
                        rung["queries"],
                        ms(p50),
                        ms(rung.get("p95_ms")),
                        f"{kb(rung['bytes'])} ({kb(rung['gzip_bytes'])})",
                        "-" if vs_first is None else f"{vs_first:.1f}×",
                        "-" if vs_previous is None else f"{vs_previous:.1f}×",
                    ]
                )
                first, previous = first or p50, p50
        out.append({"name": what, "rows": table})
    return out


def _meta(doc: dict) -> list[tuple[str, str]]:
    """The run's conditions, as (label, value) for the page's header."""
    meta, dataset = doc.get("meta", {}), doc["dataset"]
    database = dataset.get("database", "?")
    if meta.get("database_version"):
        database += f" {meta['database_version']}"
    counts = ", ".join(f"{v:,} {k}" for k, v in dataset.items() if k != "database")
    found = [
        ("Date", str(meta.get("generated", "")).replace("T", " ")),
        ("Commit", meta.get("commit") or "unknown (not a git checkout)"),
        ("DEBUG", "on" if meta.get("debug") else "off"),
        ("Database", database),
        ("Cache", meta.get("cache", "")),
        ("Data", counts or "-"),
        ("Python", meta.get("python", "")),
        ("Django", meta.get("django", "")),
        ("Timed requests", str(meta.get("repeat", ""))),
    ]
    return [(label, value) for label, value in found if value]


def _compare(doc: dict) -> dict | None:
    compared = doc.get("compare")
    if not compared:
        return None
    return {
        "baseline": compared["baseline"],
        "warnings": [
            *compared.get("warnings", []),
            *([compared["drift_warning"]] if compared.get("drift_warning") else []),
        ],
        "rows": [
            {**change, "metric": metric_name(change)}
            for change in compared["changes"]
            if "metric" in change
        ],
        "count": compared.get("rows"),
    }


def context(doc: dict) -> dict:
    """What ``bench/report.html`` shows, from a --json document."""
    rows = doc["scenarios"]
    http = doc.get("http")
    return {
        "dataset": describe(doc["dataset"]),
        "meta": _meta(doc),
        "debug": bool(doc.get("meta", {}).get("debug")),
        "colours": COLOURS,
        "sections": _cache_charts(rows),
        "growth": _growth_charts(doc.get("sizes") or []),
        "headers": RESULT_HEADERS,
        "rows": _result_rows(doc),
        "ladders": _ladders(rows),
        "ladder_headers": LADDER_HEADERS,
        "breaches": doc["breaches"],
        "sites": n_plus_one_groups(
            (r["name"], r["variant"], r.get("n_plus_one", [])) for r in rows
        ),
        "explain": doc.get("explain") or [],
        "compare": _compare(doc),
        "http_headers": [label for _, label in HTTP_HEADERS],
        "http_rows": [
            [r[key] for key, _ in HTTP_HEADERS]
            for r in (http or {}).get("scenarios", [])
        ],
    }


def write_html(path: str, doc: dict) -> None:
    """One self-contained page: inline CSS and SVG, nothing fetched from anywhere."""
    Path(path).write_text(render_to_string("bench/report.html", context(doc)))
