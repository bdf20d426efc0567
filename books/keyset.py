"""Keyset ("cursor") pagination: constant cost on any page, and never a COUNT.

One implementation and one cursor format for the API and the HTML pages. A cursor is
the position of a row in the ordering, ``(published, id)`` by default, and the next
page is a range condition that the composite index ``book_published_id_idx`` answers
directly, however deep the page. The cursor travels as base64url JSON,
``{"o": "-published,-id", "v": ["2001-05-01", 42], "r": 0}``, and is checked strictly
when it comes back: it is client input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q, QuerySet

Ordering = tuple[str, ...]
MIN_INT, MAX_INT = -(2**63), 2**63 - 1  # BigAutoField; beyond it nothing can match
MAX_CURSOR_LENGTH = 1024


class InvalidCursor(ValueError):
    """A cursor that was tampered with, or made for another ordering."""


def keyset_condition(ordering: Ordering, values: Sequence[Any], reverse: bool) -> Q:
    """Rows strictly after ``values`` in ``ordering`` (before them when ``reverse``).

    For ``("-published", "-id")``: ``published < p OR (published = p AND id < i)``,
    plus the redundant ``published <= p`` that lets the index scan start at the cursor
    instead of filtering its way there.
    """
    after = Q()
    ties = Q()
    for field, value in zip(ordering, values, strict=True):
        name = field.lstrip("-")
        op = "lt" if field.startswith("-") != reverse else "gt"
        after |= ties & Q(**{f"{name}__{op}": value})
        ties &= Q(**{name: value})
    lead, lead_value = ordering[0], values[0]
    op = "lte" if lead.startswith("-") != reverse else "gte"
    return Q(**{f"{lead.lstrip('-')}__{op}": lead_value}) & after


def flip(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"


# --- The cursor format ----------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def encode_cursor(ordering: Ordering, values: Sequence[Any], reverse: bool) -> str:
    payload = {
        "o": ",".join(ordering),
        "v": [_jsonable(v) for v in values],
        "r": int(reverse),
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _reject_constant(name: str) -> Any:
    raise InvalidCursor(f"{name} is not a position")


def _check_value(field: models.Field, value: Any) -> Any:
    """One position value, typed as ``field`` wants it, or ``InvalidCursor``."""
    if isinstance(field, models.IntegerField | models.AutoField):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidCursor("not an integer")
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidCursor("integer out of range")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidCursor("not a finite number")
    if not isinstance(value, str):
        raise InvalidCursor("not a string")
    if "\x00" in value:
        raise InvalidCursor("NUL in a cursor value")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidCursor("not valid UTF-8") from exc
    try:
        parsed = field.to_python(value)
    except (ValidationError, ValueError, OverflowError) as exc:
        raise InvalidCursor(str(exc)) from exc
    if parsed is None:
        raise InvalidCursor("an empty position")
    return parsed


@dataclass(frozen=True)
class Cursor:
    values: tuple[Any, ...]
    reverse: bool


def decode_cursor(
    encoded: str, ordering: Ordering, model: type[models.Model]
) -> Cursor:
    """The position in ``encoded``, checked field by field against ``ordering``."""
    if len(encoded) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        payload = json.loads(raw, parse_constant=_reject_constant)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursor("not a cursor") from exc
    if not isinstance(payload, dict) or payload.get("o") != ",".join(ordering):
        raise InvalidCursor("cursor made for another ordering")
    values, reverse = payload.get("v"), payload.get("r")
    if not isinstance(values, list) or len(values) != len(ordering):
        raise InvalidCursor("cursor with a wrong position")
    if reverse not in (0, 1) or isinstance(reverse, float):
        raise InvalidCursor("cursor with a wrong direction")
    checked = []
    for name, value in zip(ordering, values, strict=True):
        field = model._meta.get_field(name.lstrip("-"))
        assert isinstance(field, models.Field)  # orderings name columns, not relations
        checked.append(_check_value(field, value))
    return Cursor(tuple(checked), bool(reverse))


# --- A page ---------------------------------------------------------------------------


def _position(row: Any, ordering: Ordering) -> list[Any]:
    names = [f.lstrip("-") for f in ordering]
    if isinstance(row, dict):  # a values() row
        return [row[name] for name in names]
    return [getattr(row, name) for name in names]


class KeysetPage:
    """One page of ``queryset`` in ``ordering``, from an optional cursor.

    Evaluated lazily, once (one ``LIMIT size + 1`` query), so a cached template
    fragment that needs no rows runs no query. ``ordering`` must end in a unique
    column (``id``) so that every row has exactly one position.
    """

    def __init__(
        self,
        queryset: QuerySet[Any] | None,
        *,
        ordering: Ordering,
        cursor: Cursor | None,
        size: int,
    ) -> None:
        self.queryset = queryset
        self.ordering = ordering
        self.cursor = cursor
        self.size = size

    def _slice(self, limit: int) -> QuerySet[Any]:
        """The page's query: up to ``limit`` rows from the cursor on, in walking
        order (reversed when paging back)."""
        queryset, reverse = self.queryset, self.reverse
        assert queryset is not None, "a page without a queryset overrides fetch()"
        if self.cursor is not None:
            queryset = queryset.filter(
                keyset_condition(self.ordering, self.cursor.values, reverse)
            )
        order = [flip(f) for f in self.ordering] if reverse else self.ordering
        return queryset.order_by(*order)[:limit]

    def fetch(self, limit: int) -> list[Any]:
        """The one query; a subclass may run its own SQL instead."""
        return list(self._slice(limit))

    async def aload(self) -> None:
        """Run the page's query with the async ORM, so that ``rows`` and the cursors
        need no query afterwards (for ``async def`` views)."""
        rows = [row async for row in self._slice(self.size + 1)]
        self.__dict__["_window"] = self._split(rows)

    @property
    def reverse(self) -> bool:
        return bool(self.cursor and self.cursor.reverse)

    @cached_property
    def _window(self) -> tuple[list[Any], bool]:
        return self._split(self.fetch(self.size + 1))

    def _split(self, rows: list[Any]) -> tuple[list[Any], bool]:
        """(the page's rows in display order, whether more follow)."""
        more = len(rows) > self.size
        del rows[self.size :]
        if self.reverse:
            rows.reverse()
        return rows, more

    @property
    def rows(self) -> list[Any]:
        return self._window[0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_next(self) -> bool:
        rows, more = self._window
        if self.cursor is not None and self.cursor.reverse:
            return bool(rows)  # we came back from a later page
        return more

    @property
    def has_previous(self) -> bool:
        rows, more = self._window
        if self.cursor is not None and self.cursor.reverse:
            return more
        return self.cursor is not None and bool(rows)

    def next_cursor(self) -> str | None:
        if not (self.has_next and self.rows):
            return None
        return encode_cursor(
            self.ordering, _position(self.rows[-1], self.ordering), False
        )

    def previous_cursor(self) -> str | None:
        if not (self.has_previous and self.rows):
            return None
        return encode_cursor(
            self.ordering, _position(self.rows[0], self.ordering), True
        )
