"""EXPLAIN every distinct query of the tuned scenarios, and flag the full scans.

PostgreSQL runs ``EXPLAIN (ANALYZE, FORMAT JSON)`` (the SELECT really executes; bench
only ever explains SELECTs), SQLite ``EXPLAIN QUERY PLAN``. A flag means a sequential
scan of a large table that filters rows or feeds a sort: the signature of a missing
index. Small tables are scanned on purpose by any sane planner and are not flagged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django.db import connection, transaction

from bench.sql import fingerprint

LARGE_TABLE_ROWS = 10_000
_SORTS = {"Sort", "Incremental Sort"}
_ALIAS = re.compile(r'"(\w+)"\s+(?:AS\s+)?"?([A-Z]\d+)"?\b')


@dataclass
class Finding:
    fingerprint: str
    scenarios: list[str] = field(default_factory=list)
    plan: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # seq scans an index could serve
    error: str | None = None

    @property
    def headline(self) -> str:
        """The table accesses, e.g. "Index Scan using book_published_id_idx on
        books_book"; what a reader checks first."""
        scans = []
        for line in self.plan.splitlines():
            text = line.strip().split(" (rows=")[0]
            if (" on " in text or text.startswith(("SCAN", "SEARCH"))) and (
                text not in scans
            ):
                scans.append(text)
        return "; ".join(scans[:3]) or (self.plan.splitlines() or [""])[0]

    def as_json(self) -> dict:
        return {
            "fingerprint": self.fingerprint,
            "scenarios": self.scenarios,
            "plan": self.plan,
            "headline": self.headline,
            "flags": self.flags,
            "notes": self.notes,
            "error": self.error,
        }


class RowCounts:
    """Table sizes: planner statistics on PostgreSQL, COUNT(*) on SQLite."""

    def __init__(self) -> None:
        self._rows: dict[str, float] = {}
        self._tables: set[str] | None = None

    def __call__(self, table: str) -> float:
        if self._tables is None:
            self._tables = set(connection.introspection.table_names())
        if table not in self._tables:
            return 0.0  # a subquery alias ("qualify", "U0"), not a table
        if table not in self._rows:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute(
                        "SELECT reltuples FROM pg_class WHERE relname = %s", [table]
                    )
                    row = cursor.fetchone()
                else:
                    quoted = connection.ops.quote_name(table)
                    cursor.execute(f"SELECT COUNT(*) FROM {quoted}")  # noqa: S608
                    row = cursor.fetchone()
            self._rows[table] = float(row[0]) if row else 0.0
        return self._rows[table]


def flag_postgres_plan(plan: dict, rows: RowCounts, min_rows: int) -> list[str]:
    """Seq Scans on a large relation with a Filter, or below a Sort."""
    flags: list[str] = []

    def walk(node: dict, under_sort: bool) -> None:
        kind = node.get("Node Type", "")
        if kind == "Seq Scan":
            table = node.get("Relation Name", "?")
            size = rows(table)
            if size > min_rows and ("Filter" in node or under_sort):
                why = f"filter {node['Filter']}" if "Filter" in node else "feeds a sort"
                flags.append(f"Seq Scan on {table} (~{size:,.0f} rows): {why}")
        for child in node.get("Plans", []):
            walk(child, under_sort or kind in _SORTS)

    walk(plan, False)
    return flags


def summarise_postgres_plan(plan: dict) -> str:
    lines: list[str] = []

    def walk(node: dict, depth: int) -> None:
        label = node.get("Node Type", "?")
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
        if node.get("Relation Name"):
            label += f" on {node['Relation Name']}"
        actual = node.get("Actual Rows")
        timing = node.get("Actual Total Time")
        extra = f" (rows={actual}, {timing} ms)" if actual is not None else ""
        lines.append("  " * depth + label + extra)
        for child in node.get("Plans", []):
            walk(child, depth + 1)

    walk(plan, 0)
    return "\n".join(lines)


def flag_sqlite_plan(
    details: list[str], sql: str, rows: RowCounts, min_rows: int
) -> list[str]:
    """``SCAN table`` without an index on a large table, when the query filters or
    orders."""
    aliases = {alias: table for table, alias in _ALIAS.findall(sql)}
    upper = sql.upper()
    if " WHERE " not in upper and " ORDER BY " not in upper:
        return []
    flags = []
    for detail in details:
        match = re.match(r"SCAN (\w+)(.*)", detail)
        if not match or "USING" in match.group(2):
            continue
        name: str = match.group(1)
        table = aliases.get(name, name)
        size = rows(table)
        if size > min_rows:
            flags.append(f"SCAN {table} (~{size:,.0f} rows) without an index")
    return flags


def _seq_scan_tables(plan: dict) -> set[str]:
    found = set()

    def walk(node: dict) -> None:
        if node.get("Node Type") == "Seq Scan":
            found.add(node.get("Relation Name", "?"))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found


def _indexable(sql: str, params, flags: list[str]) -> tuple[list[str], list[str]]:
    """Split flags into (missing index, planner's choice) by re-planning with
    ``enable_seqscan = off``: a scan that survives it has no usable index.

    The setting is ``SET LOCAL`` inside a savepoint that is rolled back, so it never
    leaks into the session.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        document = cursor.fetchone()[0]
        transaction.set_rollback(True)
    if isinstance(document, str):
        document = json.loads(document)
    still = _seq_scan_tables(document[0]["Plan"])
    missing, chosen = [], []
    for flag in flags:
        table = flag.split("Seq Scan on ", 1)[1].split(" ", 1)[0]
        if table in still:
            missing.append(flag)
        else:
            chosen.append(
                f"{flag}; an index exists but the planner estimates the scan cheaper"
            )
    return missing, chosen


def explain(
    sql: str, params, rows: RowCounts, min_rows: int
) -> tuple[str, list[str], list[str]]:
    """(plan summary, flags, notes) for one statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            document = cursor.fetchone()[0]
            if isinstance(document, str):
                document = json.loads(document)
            plan = document[0]["Plan"]
            flags = flag_postgres_plan(plan, rows, min_rows)
            notes: list[str] = []
            if flags:
                flags, notes = _indexable(sql, params, flags)
            return summarise_postgres_plan(plan), flags, notes
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        details = [row[-1] for row in cursor.fetchall()]
        return "\n".join(details), flag_sqlite_plan(details, sql, rows, min_rows), []


def explain_results(results, *, min_rows: int = LARGE_TABLE_ROWS) -> list[Finding]:
    """One finding per distinct SELECT fingerprint of the tuned scenarios."""
    findings: dict[str, Finding] = {}
    samples: dict[str, tuple[str, object]] = {}
    for result in results:
        if result.variant != "tuned":
            continue
        for sql, params in result.samples:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            fp = fingerprint(sql)
            finding = findings.setdefault(fp, Finding(fp))
            if result.name not in finding.scenarios:
                finding.scenarios.append(result.name)
            samples.setdefault(fp, (sql, params))
    rows = RowCounts()
    for fp, finding in findings.items():
        sql, params = samples[fp]
        try:
            # A savepoint, so a failing EXPLAIN cannot poison an outer transaction.
            with transaction.atomic():
                finding.plan, finding.flags, finding.notes = explain(
                    sql, params, rows, min_rows
                )
        except Exception as exc:  # a plan we cannot get is reported, not fatal
            finding.error = f"{type(exc).__name__}: {exc}"
    return list(findings.values())
