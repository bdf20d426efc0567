"""``bench --compare OLD.json``: what changed since a baseline, told apart from noise.

Query counts are exact, so any difference in them is a change. A p50 is a sample,
and two runs are two samples of a machine whose load moves between them. So:

1. **Drift.** The median over every row of new p50 / old p50 is the run-wide drift:
   the machine's load, or a cost every request pays alike. Each row is compared
   with its baseline times the drift, and a drift beyond the threshold is named in
   a warning (never a failure: on a shared machine nothing tells it from load).
2. **Noise.** A row counts as slower or faster only when it moves, against that
   expectation, by more than every one of: the relative threshold (20%, or
   ``--fail-on-regression``'s), each run's own spread (p95 - p50), three times the
   scatter of the rows' ratios around the drift (what unchanged code does between
   runs on this machine), and an absolute floor (0.5 ms, timer and scheduler jitter).
3. **Repeats.** Rows timed fewer than ``MIN_RUNS`` times are not compared, and a
   row that moved is timed again (``moved()``, then ``compare(confirm=...)``): it
   counts only if both passes moved the same way.

Runs made under different conditions (DEBUG, database, data size) are compared all
the same, with a warning: their query counts still compare, their timings hardly do.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rich.console import JustifyMethod
from rich.table import Table
from rich.text import Text

# Exact: any difference is a change.
EXACT = (
    "status",
    "queries",
    "duplicate_queries",
    "similar_queries",
    "exact_duplicates",
)
METRICS = {  # as the tables print them
    "status": "status",
    "queries": "queries",
    "duplicate_queries": "repeated queries",
    "similar_queries": "similar queries",
    "exact_duplicates": "duplicate queries",
    "p50_ms": "p50 ms",
}
THRESHOLD_PCT = 20.0
FLOOR_MS = 0.5
MIN_RUNS = 3
MIN_ROWS = 3  # fewer rows timed in both runs: no drift or scatter is estimated
SCATTER_SIGMAS = 3.0
MAD_TO_SIGMA = 1.4826  # median absolute deviation -> sigma, for normal noise

Key = tuple[str, str, str]  # (name, variant, cache)


def _rows(doc: dict) -> dict[Key, dict]:
    return {(r["name"], r["variant"], r["cache"]): r for r in doc["scenarios"]}


def spread(row: dict) -> float:
    """The run's own noise: how far its p95 sits above its p50."""
    return max(0.0, (row.get("p95_ms") or row["p50_ms"]) - row["p50_ms"])


def _timed(row: dict) -> bool:
    return row.get("p50_ms") is not None and row.get("runs", MIN_RUNS) >= MIN_RUNS


@dataclass(frozen=True)
class Noise:
    """What the two runs say about their own comparability."""

    drift: float = 1.0  # median new / old p50 over every row timed in both
    scatter: float = 0.0  # robust sigma of ln(ratio / drift) over those rows


def noise(pairs: Iterable[tuple[dict, dict]]) -> Noise:
    """The run-wide drift and scatter; 1 and 0 below ``MIN_ROWS`` timed rows."""
    ratios = [
        new["p50_ms"] / old["p50_ms"]
        for old, new in pairs
        if _timed(old) and _timed(new) and old["p50_ms"] > 0 and new["p50_ms"] > 0
    ]
    if len(ratios) < MIN_ROWS:
        return Noise()
    drift = statistics.median(ratios)
    deviations = [abs(math.log(ratio / drift)) for ratio in ratios]
    return Noise(drift, MAD_TO_SIGMA * statistics.median(deviations))


def band(
    old: dict, new: dict, pct: float = THRESHOLD_PCT, found: Noise = Noise()
) -> float:
    """How far a p50 may sit from its expectation (baseline x drift), either way,
    before it counts as a change (ms)."""
    expected = old["p50_ms"] * found.drift
    return max(
        expected * pct / 100,
        spread(old) * found.drift,
        spread(new),
        expected * (math.exp(SCATTER_SIGMAS * found.scatter) - 1),
        FLOOR_MS,
    )


def p50_change(
    old: dict, new: dict, pct: float = THRESHOLD_PCT, found: Noise = Noise()
) -> str | None:
    """ "slower", "faster", or None while the difference is within the noise."""
    if not (_timed(old) and _timed(new)):
        return None  # a median of one or two requests is not a measurement
    delta = new["p50_ms"] - old["p50_ms"] * found.drift
    if abs(delta) <= band(old, new, pct, found):
        return None
    return "slower" if delta > 0 else "faster"


def _direction(metric: str, old: int, new: int) -> str:
    if metric == "status":
        return "status"
    return "more" if new > old else "fewer"


def _row_changes(
    key: Key,
    old: dict,
    new: dict,
    pct: float,
    found: Noise,
    confirm: Mapping[Key, str] | None,
) -> list[dict]:
    row = dict(zip(("name", "variant", "cache"), key, strict=True))
    changes = []
    for metric in EXACT:
        if metric in old and metric in new and new[metric] != old[metric]:
            changes.append(
                {
                    **row,
                    "change": _direction(metric, old[metric], new[metric]),
                    "metric": metric,
                    "before": old[metric],
                    "after": new[metric],
                }
            )
    timing = p50_change(old, new, pct, found)
    if confirm is not None and confirm.get(key) != timing:
        timing = None  # the first timing pass moved otherwise: not a change
    if timing:
        changes.append(
            {
                **row,
                "change": timing,
                "metric": "p50_ms",
                "before": old["p50_ms"],
                "after": new["p50_ms"],
                "expected": round(old["p50_ms"] * found.drift, 2),
                "band_ms": round(band(old, new, pct, found), 2),
            }
        )
    return changes


def narrowed(baseline: dict, doc: dict) -> dict:
    """The baseline without the scenarios a narrowed run (--scenario) left out."""
    names = {row["name"] for row in doc["scenarios"]}
    kept = [row for row in baseline["scenarios"] if row["name"] in names]
    return {**baseline, "scenarios": kept}


def compare(
    doc: dict,
    baseline: dict,
    *,
    pct: float = THRESHOLD_PCT,
    confirm: Mapping[Key, str] | None = None,
) -> list[dict]:
    """Every change against ``baseline``, in name order: counts that moved, p50s
    beyond the noise, scenarios added or removed.

    ``confirm`` holds the p50 verdicts of an earlier timing pass of the same run
    (``moved()``): a p50 then counts only if both passes moved the same way.
    """
    before, after = _rows(baseline), _rows(doc)
    found = noise_of(doc, baseline)
    changes: list[dict] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            row = dict(zip(("name", "variant", "cache"), key, strict=True))
            changes.append({**row, "change": "added" if old is None else "removed"})
            continue
        changes.extend(_row_changes(key, old, new, pct, found, confirm))
    return changes


def moved(doc: dict, baseline: dict, pct: float = THRESHOLD_PCT) -> dict[Key, str]:
    """The rows whose p50 moved beyond the noise: what to time once more before
    believing it (a burst of load on a shared machine moves one pass, rarely two)."""
    return {
        (c["name"], c["variant"], c["cache"]): c["change"]
        for c in compare(doc, baseline, pct=pct)
        if c.get("metric") == "p50_ms"
    }


def noise_of(doc: dict, baseline: dict) -> Noise:
    """``noise()`` over the rows both runs have."""
    before, after = _rows(baseline), _rows(doc)
    return noise((before[key], after[key]) for key in before.keys() & after.keys())


def compared(doc: dict, baseline: dict) -> int:
    """How many scenario rows both runs have."""
    return len(_rows(doc).keys() & _rows(baseline).keys())


def regressions(
    doc: dict,
    baseline: dict,
    pct: float,
    confirm: Mapping[Key, str] | None = None,
) -> list[dict]:
    """Tuned rows whose queries grew, or whose p50 is slower beyond ``pct`` percent
    and beyond the noise: what ``--fail-on-regression PCT`` fails on."""
    return [
        change
        for change in compare(doc, baseline, pct=pct, confirm=confirm)
        if change["variant"] == "tuned"
        and (
            (change["change"] == "more" and change["metric"] == "queries")
            or change["change"] == "slower"
        )
    ]


def _describe(dataset: dict) -> str:
    counts = [f"{v:,} {k}" for k, v in dataset.items() if k != "database"]
    return ", ".join(counts) or "no counts"


def warnings(doc: dict, baseline: dict) -> list[str]:
    """Conditions that differ between the runs: their timings are not comparable."""
    found = []
    old_meta, new_meta = baseline.get("meta", {}), doc.get("meta", {})
    if "debug" in old_meta and old_meta["debug"] != new_meta.get("debug"):
        found.append(f"DEBUG {old_meta['debug']} -> {new_meta.get('debug')}")
    old_data, new_data = baseline.get("dataset", {}), doc.get("dataset", {})
    if old_data.get("database") != new_data.get("database"):
        found.append(
            f"database {old_data.get('database')} -> {new_data.get('database')}"
        )
    old_counts = {k: v for k, v in old_data.items() if k != "database"}
    new_counts = {k: v for k, v in new_data.items() if k != "database"}
    if old_counts != new_counts:
        found.append(f"data {_describe(old_counts)} -> {_describe(new_counts)}")
    if old_meta.get("cache") and old_meta.get("cache") != new_meta.get("cache"):
        found.append(f"cache {old_meta['cache']} -> {new_meta.get('cache')}")
    return found


def drift_warning(found: Noise, pct: float = THRESHOLD_PCT) -> str | None:
    """Said when every timing moved together by more than the threshold."""
    if abs(math.log(found.drift)) <= math.log(1 + pct / 100):
        return None
    return (
        f"Every timing moved by a median x{found.drift:.2f} between the runs: the "
        "machine's load, or a cost every request pays (middleware, settings). Rows "
        "are compared relative to it; rerun both on a quiet machine to tell which."
    )


def _style(change: dict) -> str:
    worse = change["change"] in ("more", "slower", "status")
    if change["variant"] != "tuned":
        return "yellow"
    return "bold red" if worse else "green"


def _what(change: dict) -> str:
    if change.get("metric") != "p50_ms":
        return change["change"]
    pct = 100 * (change["after"] - change["before"]) / change["before"]
    text = f"{change['change']} {pct:+.0f}% (noise ±{change['band_ms']:g} ms"
    if change["expected"] != change["before"]:
        text += f" around {change['expected']:g} after the drift"
    return text + ")"


def metric_name(change: dict) -> str:
    """The changed metric in words ("p50 ms"); "" for an added or removed row."""
    metric = change.get("metric", "")
    return METRICS.get(metric, metric)


def membership(changes: Iterable[dict]) -> list[str]:
    """ "added: a, b" and "removed: c": scenarios only one run has, by name."""
    lines = []
    for kind in ("added", "removed"):
        names = list(dict.fromkeys(c["name"] for c in changes if c["change"] == kind))
        if names:
            lines.append(f"{kind}: {', '.join(names)}")
    return lines


def table(changes: Iterable[dict], title: str) -> Table:
    """One row per metric that changed: the scenario, before, after, the verdict.
    (Scenarios only one run has are listed by ``membership()``.)"""
    out = Table(title=title, title_justify="left", header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("scenario", "left"),
        ("variant", "left"),
        ("cache", "left"),
        ("metric", "left"),
        ("before", "right"),
        ("after", "right"),
        ("change", "left"),
    )
    for header, justify in columns:
        out.add_column(header, justify=justify, no_wrap=header == "scenario")
    for change in changes:
        if "metric" not in change:
            continue
        out.add_row(
            change["name"],
            change["variant"],
            change["cache"],
            metric_name(change),
            str(change.get("before", "")),
            str(change.get("after", "")),
            Text(_what(change)),
            style=_style(change),
        )
    return out


def summary(changes: list[dict], rows: int) -> str:
    """One line: how many rows were compared and what moved beyond the noise."""
    kinds: dict[str, int] = {}
    for change in changes:
        kinds[change["change"]] = kinds.get(change["change"], 0) + 1
    rule = (
        f"a p50 counts beyond {THRESHOLD_PCT:g}%, its runs' p95-p50 spread, "
        f"{SCATTER_SIGMAS:g}x the rows' scatter and {FLOOR_MS:g} ms; query counts are "
        "exact"
    )
    if not changes:
        return f"No change against the baseline in {rows} rows ({rule})."
    moved = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return f"{len(changes)} changes in {rows} rows compared: {moved} ({rule})."
