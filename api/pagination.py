"""Keyset pagination for DRF, over ``books.keyset`` (the HTML list uses the same).

Pages are ``{"next", "previous", "results"}``; a page is one ``LIMIT page_size + 1``
query in the view's ``get_ordering()``, with no COUNT and no OFFSET.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from books.keyset import InvalidCursor, KeysetPage, Ordering, decode_cursor

PAGE_PARAMETERS = frozenset({"cursor", "page_size"})


class KeysetPagination(BasePagination):
    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering: Ordering = ("-id",)
    invalid_cursor_message = "Invalid cursor."

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        if view is not None and hasattr(view, "get_ordering"):
            self.ordering = view.get_ordering()
        self.page = KeysetPage(
            queryset,
            ordering=self.ordering,
            cursor=self.get_cursor(request, queryset),
            size=self.get_page_size(request),
        )
        return self.page.rows

    def get_page_size(self, request: Request) -> int:
        """``?page_size=``: a positive integer, clamped to ``max_page_size``."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise exceptions.ValidationError(
                {self.page_size_query_param: ["A positive whole number."]}
            )
        return min(int(raw), self.max_page_size)

    def get_cursor(self, request: Request, queryset: QuerySet[Any]):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            return decode_cursor(encoded, self.ordering, queryset.model)
        except InvalidCursor as exc:
            raise exceptions.ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            ) from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def _link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, cursor)

    def get_next_link(self) -> str | None:
        return self._link(self.page.next_cursor())

    def get_previous_link(self) -> str | None:
        return self._link(self.page.previous_cursor())

    # --- OpenAPI ---------------------------------------------------------------------

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string", "maxLength": 1024},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Results per page: default {self.page_size}; larger values "
                    f"are clamped to {self.max_page_size}."
                ),
                "schema": {"type": "integer", "minimum": 1, "default": self.page_size},
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }
