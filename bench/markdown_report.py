"""``bench --markdown``: the summary as GitHub-flavoured Markdown, for a PR comment.

Built from the --json document, like the HTML page: a title line with the run's
conditions, one table row per scenario and cache mode (tuned beside naive), then
budget breaches and the comparison with a baseline when there is one.
"""

from __future__ import annotations

from pathlib import Path

from bench.compare import membership, metric_name
from bench.report import DEBUG_WARNING, describe, kb, ms, paired, speedup

HEADERS = (
    "Scenario",
    "Cache",
    "Queries (tuned / naive)",
    "Similar (tuned / naive)",
    "p50 ms (tuned / naive)",
    "p95 ms (tuned / naive)",
    "Speed-up",
    "KB (gzip)",
)


def cell(text: object) -> str:
    """One table cell: pipes escaped, never a line break."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _both(tuned: dict | None, naive: dict | None, show) -> str:
    return " / ".join(show(row) if row else "-" for row in (tuned, naive))


def row(name: str, cache: str, tuned: dict | None, naive: dict | None) -> list[str]:
    """The cells of one scenario and cache mode."""
    base = tuned or naive
    assert base is not None
    ratio = speedup(
        naive["p50_ms"] if naive else None, tuned["p50_ms"] if tuned else None
    )
    return [
        f"`{name}`",
        cache,
        _both(tuned, naive, lambda r: str(r["queries"])),
        _both(tuned, naive, lambda r: str(r.get("similar_queries", "-"))),
        _both(tuned, naive, lambda r: ms(r["p50_ms"])),
        _both(tuned, naive, lambda r: ms(r["p95_ms"])),
        "" if ratio is None else f"{ratio:.1f}×",
        f"{kb(base['bytes'])} ({kb(base['gzip_bytes'])})",
    ]


def table(headers: tuple[str, ...] | list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: header, ``---`` separator, one line per row."""
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines.extend("| " + " | ".join(cell(c) for c in cells) + " |" for cells in rows)
    return lines


def _conditions(doc: dict) -> str:
    meta = doc.get("meta", {})
    parts = [describe(doc["dataset"])]
    if meta:
        parts.append(f"Django {meta.get('django')}, Python {meta.get('python')}")
        parts.append(f"cache {meta.get('cache')}")
        parts.append(f"DEBUG {'on' if meta.get('debug') else 'off'}")
    if meta.get("commit"):
        parts.append(f"commit `{meta['commit']}`")
    return "; ".join(parts)


def _compare(doc: dict) -> list[str]:
    compared = doc.get("compare")
    if not compared:
        return []
    lines = ["", f"#### Against `{compared['baseline']}`", ""]
    warnings = list(compared.get("warnings", []))
    if compared.get("drift_warning"):
        warnings.append(compared["drift_warning"])
    for warning in warnings:
        lines += [f"> {warning}", ""]
    changes = [c for c in compared["changes"] if "metric" in c]
    lines += [f"- {line}" for line in membership(compared["changes"])]
    if not changes:
        lines.append(f"No change in {compared['rows']} rows (p50s within the noise).")
        return lines
    rows = [
        [
            f"`{c['name']}`",
            c["variant"],
            c["cache"],
            metric_name(c),
            str(c.get("before", "")),
            str(c.get("after", "")),
            c["change"],
        ]
        for c in changes
    ]
    headers = ["Scenario", "Variant", "Cache", "Metric", "Before", "After", "Change"]
    return lines + table(headers, rows)


def markdown(doc: dict) -> str:
    """The whole comment: conditions, the summary table, breaches, comparison."""
    lines = [f"### bench: {_conditions(doc)}", ""]
    if doc.get("meta", {}).get("debug"):
        lines += [f"> **{DEBUG_WARNING}**", ""]
    rows = [row(*pair) for pair in paired(doc["scenarios"])]
    lines += table(HEADERS, rows)
    lines += [
        "",
        "Similar: queries repeating another's SQL with other parameters (the debug "
        "toolbar's term). Speed-up: naive p50 / tuned p50.",
    ]
    if doc.get("breaches"):
        lines += ["", "#### Budget breaches", ""]
        lines += [
            f"- `{b['name']}` [{b['variant']}, {b['cache']}]: {b['metric']} "
            f"{b['actual']} > {b['limit']}"
            for b in doc["breaches"]
        ]
    lines += _compare(doc)
    return "\n".join(lines) + "\n"


def write_markdown(path: str, doc: dict) -> None:
    Path(path).write_text(markdown(doc))
