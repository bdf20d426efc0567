"""SQL fingerprints and N+1 fix hints.

A fingerprint is the statement with every literal and parameter replaced by ``?`` and
every ``IN (...)`` list collapsed, so the 20 lookups of an N+1 share one fingerprint.
The hint reads the repeated statement's table and WHERE column back into the model
graph and names the ``select_related``/``prefetch_related``/``annotate`` call that
would fold the repeats into the parent query.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models import ForeignObjectRel

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w\"])-?\d+(?:\.\d+)?(?![\w\"])")
_PLACEHOLDER = re.compile(r"%s|\?|\$\d+")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.IGNORECASE)
_VALUES = re.compile(r"\bVALUES\s*\(.*\)", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")


def fingerprint(sql: str) -> str:
    """Normalise ``sql``: literals and parameters become ``?``, IN lists collapse."""
    text = _STRING.sub("?", sql)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _IN_LIST.sub("IN (...)", text)
    text = _VALUES.sub("VALUES (...)", text)
    return _SPACE.sub(" ", text).strip()


_SELECT_LIST = re.compile(r"^SELECT\s+(?:DISTINCT\s+)?(.*?)\s+FROM\s", re.DOTALL)


def summary(fp: str) -> str:
    """A fingerprint for people: a plain column list becomes ``...``."""
    match = _SELECT_LIST.match(fp)
    if match and "(" not in match.group(1):
        return f"SELECT ... {fp[match.end(1) :].lstrip()}"
    return fp


_FROM = re.compile(r'\bFROM\s+"?(\w+)"?', re.IGNORECASE)
_WHERE_COLUMN = re.compile(r'"(\w+)"\."(\w+)"\s*(?:=\s*\?|IN\s*\()', re.IGNORECASE)
_AGGREGATE = re.compile(
    r'\b(COUNT|AVG|SUM|MIN|MAX)\(\s*(?:DISTINCT\s+)?(\*|"\w+"\."(\w+)")',
    re.IGNORECASE,
)


def main_table(sql: str) -> str | None:
    """The first table after FROM (the one a SELECT reads rows from)."""
    match = _FROM.search(sql)
    return match.group(1) if match else None


@dataclass(frozen=True)
class _Edge:
    accessor: str
    target: type[models.Model]
    many: bool  # crosses a to-many relation (prefetch_related, not select_related)


def model_for_table(table: str | None) -> type[models.Model] | None:
    """The installed model (M2M through tables included) stored in ``table``.

    Not memoised: apps.get_models() already is, and it follows INSTALLED_APPS when a
    test swaps them."""
    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == table:
            return model
    return None


def _edges(model: type[models.Model]) -> list[_Edge]:
    edges = []
    for field in model._meta.get_fields():
        target = field.related_model
        if not field.is_relation or target is None:
            continue
        assert not isinstance(target, str)  # "self" etc. resolved by the app registry
        # Reverse FK / reverse M2M: the only fields that are auto-created and not
        # concrete, and all of them ForeignObjectRel.
        if isinstance(field, ForeignObjectRel):
            accessor = field.get_accessor_name()
            if accessor is None or target._meta.auto_created:
                continue  # hidden, or the reverse relation from an M2M through table
            many = bool(field.many_to_many or field.one_to_many)
            edges.append(_Edge(accessor, target, many))
        elif field.many_to_many:
            edges.append(_Edge(field.name, target, True))
        elif field.many_to_one or field.one_to_one:
            edges.append(_Edge(field.name, target, False))
    return edges


def _path(start: type[models.Model], goal: type[models.Model]) -> list[_Edge] | None:
    """Shortest relation path from ``start`` to ``goal`` (breadth first, depth 3)."""
    if start is goal:
        return []
    queue: deque[tuple[type[models.Model], list[_Edge]]] = deque([(start, [])])
    seen = {start}
    while queue:
        model, path = queue.popleft()
        if len(path) >= 3:
            continue
        for edge in _edges(model):
            if edge.target in seen:
                continue
            if edge.target is goal:
                return [*path, edge]
            seen.add(edge.target)
            queue.append((edge.target, [*path, edge]))
    return None


def _lookup(path: list[_Edge]) -> str:
    return "__".join(edge.accessor for edge in path)


def _column_field(model: type[models.Model], column: str) -> models.Field | None:
    for field in model._meta.concrete_fields:
        if field.column == column:
            return field
    return None


def _where_field(sql: str) -> tuple[type[models.Model], models.Field] | None:
    """The model and field of the first ``"table"."column" = ?`` in the WHERE."""
    upper = sql.upper()
    where = sql[upper.find(" WHERE ") :] if " WHERE " in upper else ""
    match = _WHERE_COLUMN.search(where)
    if match is None:
        return None
    model = model_for_table(match.group(1))
    if model is None:
        return None
    field = _column_field(model, match.group(2))
    return (model, field) if field is not None else None


def _forward_hint(parent: type[models.Model], target: type[models.Model]) -> str | None:
    """A lookup by primary key: a relation followed once per parent row."""
    path = _path(parent, target)
    if not path:
        return None
    method = "prefetch_related" if any(e.many for e in path) else "select_related"
    return f"{method}('{_lookup(path)}')"


def _reverse_accessor(
    owner: type[models.Model],
    where_model: type[models.Model],
    field: models.ForeignKey,
    table: str,
) -> str | None:
    """The name ``owner`` reaches ``where_model``'s rows by (``reviews``)."""
    if not where_model._meta.auto_created:
        return field.remote_field.get_accessor_name()
    # The M2M through table: find the M2M field it belongs to, from owner's side.
    return next(
        (
            e.accessor
            for e in _edges(owner)
            if e.many and model_for_table(table) is e.target
        ),
        None,
    )


def _aggregate_hint(sql: str, lookup: str) -> str | None:
    """``annotate(Avg('reviews__rating'))`` when the repeat only aggregates."""
    aggregate = _AGGREGATE.search(sql[: sql.upper().find(" FROM ")])
    if not aggregate:
        return None
    func = aggregate.group(1).capitalize()
    column = aggregate.group(3)
    target = f"{lookup}__{column}" if column and column != "id" else lookup
    return f"annotate({func}('{target}')) or a Subquery annotation"


def _reverse_hint(
    sql: str,
    parent: type[models.Model],
    table: str,
    where_model: type[models.Model],
    field: models.ForeignKey,
) -> str | None:
    """A lookup by foreign key: the rows of a to-many relation, once per parent."""
    owner = field.related_model  # the row the repeated query is keyed by
    assert not isinstance(owner, str)  # "self" etc. resolved by the app registry
    to_owner = _path(parent, owner)
    if to_owner is None:
        return None
    accessor = _reverse_accessor(owner, where_model, field, table)
    if accessor is None:
        return None
    lookup = _lookup([*to_owner, _Edge(accessor, where_model, True)])
    return _aggregate_hint(sql, lookup) or f"prefetch_related('{lookup}')"


def fix_hint(sql: str, parent: type[models.Model] | None) -> str | None:
    """Name the queryset call that would fold this repeated query into ``parent``'s.

    ``SELECT .. FROM author WHERE author.id = ?`` repeated under a Book list gives
    ``select_related('author')``; ``.. WHERE review.book_id = ?`` gives
    ``prefetch_related('reviews')``, or ``annotate(...)`` when it only aggregates.
    """
    table = main_table(sql)
    found = _where_field(sql)
    if parent is None or table is None or found is None:
        return None
    where_model, field = found
    if field.primary_key:
        return _forward_hint(parent, where_model)
    # A relation with a column of its own: a ForeignKey (or OneToOneField).
    if not isinstance(field, models.ForeignKey):
        return None
    return _reverse_hint(sql, parent, table, where_model, field)
