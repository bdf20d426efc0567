"""``GET /api/books/export.ndjson``: the whole filtered catalogue, streamed.

One JSON object per line, each exactly a ``/api/books/`` list item
(``book_list_items()``), in the list's order and with the list's filters. The books
are read in keyset chunks of ``CHUNK``: ``KeysetPage`` over ``for_list_rows()``, each
chunk starting after the last row of the one before (two queries: the rows, then
their genres), encoded and handed to the server before the next one is read. Memory
is one chunk's worth however large the catalogue, and the first line leaves after
the first chunk, not after the last.

On PostgreSQL the chunks are read in one ``REPEATABLE READ, READ ONLY`` transaction:
one snapshot, so a book written during the export is neither missed nor sent twice
(a keyset walk outside a snapshot can do both when a sort key changes under it).

Never cached (no ``cache_policy``, so the front door passes it by); anonymous readers
are welcome and DRF's throttles apply. GZip compresses the stream when asked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db import connections, transaction
from django.http import StreamingHttpResponse
from django.utils.cache import add_never_cache_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from api.filters import book_filter_parameters, book_filters
from api.renderers import ORJSONRenderer
from api.serializers import book_list_items
from books.filters import BookFilters
from books.keyset import Cursor, KeysetPage
from books.models import Book

CHUNK = 1000  # books per chunk: two queries, a few hundred KB of JSON
MEDIA_TYPE = "application/x-ndjson"


@contextmanager
def _snapshot(alias: str) -> Iterator[None]:
    """One read-only snapshot for every chunk, where the database offers one cheaply.

    Not inside an outer transaction (it would be too late to set the isolation), and
    not on SQLite, whose transactions here begin IMMEDIATE: a write lock for the
    length of a download.
    """
    connection = connections[alias]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def export_lines(
    filters: BookFilters, context: dict[str, Any], chunk: int | None = None
) -> Generator[bytes, None, None]:
    """NDJSON, one bytes object per chunk of ``CHUNK`` books (2 queries each)."""
    chunk = chunk or CHUNK
    books = Book.objects.for_list_rows().filter_by(filters)
    names = [field.lstrip("-") for field in filters.ordering]
    cursor: Cursor | None = None
    with _snapshot(books.db):
        while True:
            page = KeysetPage(
                books, ordering=filters.ordering, cursor=cursor, size=chunk
            )
            rows = page.rows
            if rows:
                yield b"".join(
                    orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)
                    for item in book_list_items(rows, context)
                )
            if not page.has_next:
                return
            cursor = Cursor(tuple(rows[-1][name] for name in names), reverse=False)


def _next_chunk(lines: Generator[bytes, None, None]) -> bytes | None:
    return next(lines, None)


async def _one_at_a_time(
    lines: Generator[bytes, None, None],
) -> AsyncIterator[bytes]:
    """The same chunks for an ASGI server, each read in the request's own thread
    (where its database connection lives), the event loop free in between.

    Given a synchronous iterator, Django's ASGI handler would read it to the end
    into a list before sending a byte: the whole catalogue in memory.
    """
    step = sync_to_async(_next_chunk, thread_sensitive=True)
    try:
        while (chunk := await step(lines)) is not None:
            yield chunk
    finally:
        await sync_to_async(lines.close, thread_sensitive=True)()


class BookExportView(APIView):
    """The whole catalogue as NDJSON, one ``/api/books/`` list item per line; the
    list's filters and ordering apply (a bad value is a JSON 400 naming it)."""

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[ORJSONRenderer, str]:
        # The body is NDJSON whatever the client accepts; errors are JSON objects.
        renderer = ORJSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="books_export",
        parameters=book_filter_parameters(),
        responses={
            (200, MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.STR,
                description="One book-list item (as in /api/books/) per line.",
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        filters = book_filters(request)
        if request.method == "HEAD":
            lines: Any = iter(())  # a server would run every query for nothing
        else:
            lines = export_lines(filters, {"request": request})
            if isinstance(request._request, ASGIRequest):
                lines = _one_at_a_time(lines)
        response = StreamingHttpResponse(lines, content_type=MEDIA_TYPE)
        add_never_cache_headers(response)
        response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on as it comes
        return response
