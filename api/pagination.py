"""Keyset ("cursor") pagination: constant cost on any page, and never a COUNT.

DRF's ``CursorPagination`` keys on the first ordering field only and steps over ties
with an OFFSET. Here the cursor carries the whole ordering key, ``(published, id)`` by
default, and the next page is a range condition that the composite index
``book_published_id_idx`` answers directly, however deep the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

Ordering = tuple[str, ...]


def keyset_condition(ordering: Ordering, values: list[Any], reverse: bool) -> Q:
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


class KeysetPagination(BasePagination):
    """``{"next", "previous", "results"}`` pages in the view's ``get_ordering()``.

    The view's ordering must end in a unique column (``id``) so that every row has
    exactly one position. A page is one ``LIMIT page_size + 1`` query.
    """

    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering: Ordering = ("-id",)
    invalid_cursor_message = "Invalid cursor."

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None):
        self.request = request
        self.ordering = (
            view.get_ordering() if hasattr(view, "get_ordering") else self.ordering
        )
        self.page_size = self.get_page_size(request)
        cursor = self.decode_cursor(request, queryset.model)
        reverse = bool(cursor and cursor["reverse"])
        if cursor:
            queryset = queryset.filter(
                keyset_condition(self.ordering, cursor["values"], reverse)
            )
        order = [self._flip(f) for f in self.ordering] if reverse else self.ordering
        rows = list(queryset.order_by(*order)[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        del rows[self.page_size :]
        if reverse:
            rows.reverse()
            self.has_next, self.has_previous = True, has_more
        else:
            self.has_next, self.has_previous = has_more, cursor is not None
        self.page = rows
        return rows

    def get_page_size(self, request: Request) -> int:
        """``?page_size=`` clamped to ``1..max_page_size``; junk means the default."""
        try:
            size = int(request.query_params[self.page_size_query_param])
        except (KeyError, ValueError):
            return self.page_size
        return min(size, self.max_page_size) if size > 0 else self.page_size

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_next_link(self) -> str | None:
        if not (self.has_next and self.page):
            return None
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not (self.has_previous and self.page):
            return None
        return self._link(self.page[0], reverse=True)

    # --- cursors ---------------------------------------------------------------------

    def _link(self, row: Model, reverse: bool) -> str:
        values = [getattr(row, f.lstrip("-")) for f in self.ordering]
        payload = {
            "o": ",".join(self.ordering),
            "v": [v.isoformat() if hasattr(v, "isoformat") else v for v in values],
            "r": int(reverse),
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def decode_cursor(self, request: Request, model: type[Model]) -> dict | None:
        """The cursor's position as Python values; a 400 naming ``cursor`` if it was
        tampered with or was made for another ordering."""
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            payload = json.loads(raw)
            if payload["o"] != ",".join(self.ordering):
                raise ValueError("cursor made for another ordering")
            fields = [model._meta.get_field(f.lstrip("-")) for f in self.ordering]
            values = [
                field.to_python(value)
                for field, value in zip(fields, payload["v"], strict=True)
            ]
            if None in values:
                raise ValueError("cursor with an empty position")
            return {"values": values, "reverse": bool(payload["r"])}
        except (
            binascii.Error,
            ValueError,  # includes JSONDecodeError and UnicodeDecodeError
            TypeError,
            KeyError,
            ValidationError,
        ) as exc:
            raise exceptions.ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from exc

    @staticmethod
    def _flip(field: str) -> str:
        return field[1:] if field.startswith("-") else f"-{field}"

    # --- OpenAPI ---------------------------------------------------------------------

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page: default {self.page_size}, "
                    f"capped at {self.max_page_size}."
                ),
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
