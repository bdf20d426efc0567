"""The optimisation ladder: the same book-list response, built one technique at a time.

``GET /api/ladder/{rung}/books/`` takes ``/api/books/``'s parameters and returns its
JSON (only the path of ``next``/``previous`` differs), never cached. Each rung adds one
technique to the one before; the rungs are plain Django views sharing the parameter
checks, the keyset page and the JSON envelope, so the only difference between two
rungs is the few lines that fetch and shape the rows:

- ``naive``: the tutorial loop; every relation and aggregate read row by row (4N+1).
- ``eager``: ``select_related`` + ``prefetch_related``; ratings from prefetched reviews.
- ``lean``: ``only()`` and subquery annotations instead of loading every review.
- ``values``: ``values()`` dicts, no model instances (what ``/api/books/`` runs).
- ``raw``: one hand-written SQL through Django's connection: the floor of Django.
- ``async``: ``values`` as an ``async def`` view on the async ORM, for ASGI (beside
  the ladder, not above it: the same queries, reached through ``sync_to_async``).

``/api/books/`` itself adds the rungs above these: ``cached`` (a response-cache hit)
and ``304`` (a conditional GET). ``GET /api/ladder/ceiling/`` is constant JSON through
the same stack with no database: the framework's ceiling.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Avg, Count, Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from rest_framework.utils.urls import replace_query_param

from api.pagination import KeysetPagination
from api.serializers import (
    book_list_items,
    detail_url,
    rating_average,
    url_template,
)
from books.filters import BookFilters
from books.keyset import Cursor, InvalidCursor, KeysetPage, decode_cursor, flip
from books.models import Book, Genre, agenres_by_book

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from books.models import Rating

Rows = list[dict[str, Any]]
PAGE = KeysetPagination  # page_size rules, shared with /api/books/


# --- The rungs: each turns one page of the list into JSON-ready dicts -----------------


def _item(
    context: dict, book: Book, genres: Iterable[Genre], average: Any, count: int
) -> dict:
    """One list item from a Book instance (the instance-based rungs share it)."""
    author, publisher = book.author, book.publisher
    return {
        "id": book.pk,
        "url": detail_url(context, "api:book-detail", book.pk),
        "title": book.title,
        "isbn": book.isbn,
        "published": book.published.isoformat(),
        "pages": book.pages,
        "price": f"{book.price:.2f}",
        "author": {
            "id": author.pk,
            "name": author.name,
            "url": detail_url(context, "api:author-detail", author.pk),
        },
        "publisher": {"id": publisher.pk, "name": publisher.name}
        if publisher
        else None,
        "genres": [{"id": g.pk, "name": g.name, "slug": g.slug} for g in genres],
        "rating": {"average": rating_average(average), "count": count},
    }


def naive(filters: BookFilters) -> tuple[Any, Callable[[list, dict], Rows]]:
    """Book.objects and attribute access: author, publisher, genres and the rating
    aggregate are each one more query per book."""

    def shape(page: list[Book], context: dict) -> Rows:
        items = []
        for book in page:
            rating = book.reviews.aggregate(average=Avg("rating"), count=Count("id"))
            genres = book.genres.order_by("name")
            items.append(
                _item(context, book, genres, rating["average"], rating["count"])
            )
        return items

    return Book.objects.filter_by(filters), shape


def eager(filters: BookFilters) -> tuple[Any, Callable[[list, dict], Rows]]:
    """Relations joined or prefetched (3 queries a page), but every review of the
    page's books is loaded to compute ratings in Python."""
    books = (
        Book.objects.filter_by(filters)
        .select_related("author", "publisher")
        .prefetch_related(
            Prefetch("genres", queryset=Genre.objects.order_by("name")), "reviews"
        )
    )

    def shape(page: list[Book], context: dict) -> Rows:
        items = []
        for book in page:
            ratings = [review.rating for review in book.reviews.all()]
            average = sum(ratings) / len(ratings) if ratings else None
            items.append(_item(context, book, book.genres.all(), average, len(ratings)))
        return items

    return books, shape


def lean(filters: BookFilters) -> tuple[Any, Callable[[list, dict], Rows]]:
    """``for_list()``: only the listed columns, ratings as subquery annotations, genres
    prefetched (2 queries); still a model instance per book, author and genre."""

    def shape(page: list[WithAnnotations[Book, Rating]], context: dict) -> Rows:
        return [
            _item(context, b, b.genres.all(), b.rating_average, b.rating_count)
            for b in page
        ]

    return Book.objects.for_list().filter_by(filters), shape


def values(filters: BookFilters) -> tuple[Any, Callable[[list, dict], Rows]]:
    """``for_list_rows()``: the same SQL as dicts, genres in one more query, no
    instances (2 queries). This is ``/api/books/``'s own code path."""
    return Book.objects.for_list_rows().filter_by(filters), book_list_items


# --- raw: one statement, written by hand ----------------------------------------------

_GENRES = {
    # Each book's genres as a JSON array, ordered by name, inside the same statement.
    "postgresql": (
        "SELECT COALESCE(json_agg(json_build_object("
        "'id', g.id, 'name', g.name, 'slug', g.slug) ORDER BY g.name), '[]')::text "
        "FROM books_book_genres bg JOIN books_genre g ON g.id = bg.genre_id "
        "WHERE bg.book_id = b.id"
    ),
    "sqlite": (
        "SELECT json_group_array(json_object('id', id, 'name', name, 'slug', slug)) "
        "FROM (SELECT g.id, g.name, g.slug FROM books_book_genres bg "
        "JOIN books_genre g ON g.id = bg.genre_id WHERE bg.book_id = b.id "
        "ORDER BY g.name)"
    ),
}
_SELECT = """
SELECT b.id, b.title, b.isbn, b.published, b.pages, b.price,
       a.id, a.name, p.id, p.name,
       (SELECT AVG(r.rating) FROM books_review r WHERE r.book_id = b.id),
       (SELECT COUNT(*) FROM books_review r WHERE r.book_id = b.id),
       ({genres})
FROM books_book b
JOIN books_author a ON a.id = b.author_id
LEFT JOIN books_publisher p ON p.id = b.publisher_id
WHERE {where}
ORDER BY {order}
LIMIT %s
"""


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(filters: BookFilters, vendor: str) -> tuple[list[str], list[Any]]:
    """The WHERE clauses ``BookQuerySet.filter_by()`` builds, by hand."""
    clauses = ["TRUE" if vendor == "postgresql" else "1"]
    params: list[Any] = []
    if filters.author is not None:
        clauses.append("b.author_id = %s")
        params.append(filters.author)
    if filters.genre:
        clauses.append(
            "EXISTS (SELECT 1 FROM books_book_genres bg JOIN books_genre g "
            "ON g.id = bg.genre_id WHERE bg.book_id = b.id AND g.slug = %s)"
        )
        params.append(filters.genre)
    if filters.publisher is not None:
        clauses.append("b.publisher_id = %s")
        params.append(filters.publisher)
    if filters.published_after:
        clauses.append("b.published >= %s")
        params.append(filters.published_after)
    if filters.published_before:
        clauses.append("b.published <= %s")
        params.append(filters.published_before)
    if filters.search:
        escape = "" if vendor == "postgresql" else " ESCAPE '\\'"
        # The trigram indexes cover UPPER(title) and UPPER(name) (migration 0002).
        authors = (
            f"SELECT id FROM books_author WHERE UPPER(name) LIKE UPPER(%s){escape}"
        )
        match = (
            f"b.author_id = ANY(ARRAY({authors}))"
            if vendor == "postgresql"
            else f"b.author_id IN ({authors})"
        )
        clauses.append(f"(UPPER(b.title) LIKE UPPER(%s){escape} OR {match})")
        params += [_like(filters.search), _like(filters.search)]
    return clauses, params


def _keyset(
    ordering: tuple[str, ...], values: tuple, reverse: bool
) -> tuple[str, list]:
    """``books.keyset.keyset_condition`` in SQL: rows after the cursor's position."""
    names = [f"b.{field.lstrip('-')}" for field in ordering]
    ops = ["<" if field.startswith("-") != reverse else ">" for field in ordering]
    arms, params = [], []
    for i, (name, op) in enumerate(zip(names, ops, strict=True)):
        ties = [f"{tied} = %s" for tied in names[:i]]
        arms.append("(" + " AND ".join([*ties, f"{name} {op} %s"]) + ")")
        params += [*values[:i], values[i]]
    lead = f"{names[0]} {ops[0]}= %s"  # lets the index scan start at the cursor
    return f"{lead} AND ({' OR '.join(arms)})", [values[0], *params]


class RawPage(KeysetPage):
    """A keyset page whose one query is ``_SELECT``, not the ORM."""

    def __init__(self, filters: BookFilters, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.filters = filters

    def fetch(self, limit: int) -> list[Any]:
        vendor = connection.vendor
        clauses, params = _where(self.filters, vendor)
        if self.cursor is not None:
            sql, more = _keyset(self.ordering, self.cursor.values, self.reverse)
            clauses.append(sql)
            params += more
        order = [flip(f) for f in self.ordering] if self.reverse else self.ordering
        order_sql = ", ".join(
            f"b.{f.lstrip('-')} {'DESC' if f.startswith('-') else 'ASC'}" for f in order
        )
        sql = _SELECT.format(
            genres=_GENRES[vendor], where=" AND ".join(clauses), order=order_sql
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, limit])
            return [_raw_row(row) for row in cursor.fetchall()]


def _raw_row(row: tuple) -> dict[str, Any]:
    (pk, title, isbn, published, pages, price, author_id, author_name) = row[:8]
    publisher_id, publisher_name, average, count, genres = row[8:]
    genres = orjson.loads(genres)  # JSON text from both vendors: orjson decodes it
    return {
        "id": pk,
        "title": title,
        "isbn": isbn,
        "published": published if isinstance(published, str) else published.isoformat(),
        "pages": pages,
        "price": f"{Decimal(str(price)):.2f}",
        "author_id": author_id,
        "author_name": author_name,
        "publisher_id": publisher_id,
        "publisher_name": publisher_name,
        "average": average,
        "count": count,
        "genres": genres,
    }


def raw(filters: BookFilters) -> tuple[Any, Callable[[list, dict], Rows]]:
    """One statement: JOINs, rating subqueries and the genres aggregated to JSON by
    the database; Python only renames keys."""

    def shape(page: list[dict], context: dict) -> Rows:
        book = url_template(context, "api:book-detail")
        author = url_template(context, "api:author-detail")
        return [
            {
                "id": r["id"],
                "url": f"{book[0]}{r['id']}{book[1]}",
                "title": r["title"],
                "isbn": r["isbn"],
                "published": r["published"],
                "pages": r["pages"],
                "price": r["price"],
                "author": {
                    "id": r["author_id"],
                    "name": r["author_name"],
                    "url": f"{author[0]}{r['author_id']}{author[1]}",
                },
                "publisher": (
                    {"id": r["publisher_id"], "name": r["publisher_name"]}
                    if r["publisher_id"] is not None
                    else None
                ),
                "genres": r["genres"],
                "rating": {
                    "average": rating_average(r["average"]),
                    "count": r["count"],
                },
            }
            for r in page
        ]

    return RAW, shape


RAW = object()  # marks the rung that pages with RawPage instead of a queryset
RUNGS = {"naive": naive, "eager": eager, "lean": lean, "values": values, "raw": raw}


# --- The shared envelope --------------------------------------------------------------


def _error(errors: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse(errors, status=400)


def _page_size(request: HttpRequest) -> int:
    raw_size = request.GET.get("page_size")
    if raw_size in (None, ""):
        return PAGE.page_size
    if not (raw_size.isascii() and raw_size.isdigit()) or int(raw_size) < 1:
        raise ValidationError({"page_size": ["A positive whole number."]})
    return min(int(raw_size), PAGE.max_page_size)


# The untuned rungs run a query per row: they share the naive endpoints' budget.
STRICT = frozenset({"naive", "eager"})


def _throttled(request: HttpRequest, rung: str) -> HttpResponse | None:
    """The API's own throttles (``api.throttles``), for these plain Django views."""
    from rest_framework.request import Request

    from api.throttles import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

    view = type(
        "LadderRung", (), {"throttle_scope": "naive" if rung in STRICT else None}
    )
    wrapped = Request(request)
    for throttle in (AnonRateThrottle(), UserRateThrottle(), ScopedRateThrottle()):
        if not throttle.allow_request(wrapped, view()):
            wait = throttle.wait()
            response = JsonResponse({"detail": "Request was throttled."}, status=429)
            response["Retry-After"] = str(max(1, round(wait or 1)))
            return response
    return None


def _parameters(request: HttpRequest) -> tuple[BookFilters, int, Cursor | None]:
    """The list's parameters, checked: ``ValidationError`` or ``InvalidCursor``."""
    filters = BookFilters.from_query(request.GET)
    size = _page_size(request)
    encoded = request.GET.get("cursor")
    cursor = decode_cursor(encoded, filters.ordering, Book) if encoded else None
    return filters, size, cursor


def _checked_parameters(
    request: HttpRequest,
) -> tuple[BookFilters, int, Cursor | None] | HttpResponse:
    """The parameters, or the JSON 400 naming the bad one (sync and async rungs)."""
    try:
        return _parameters(request)
    except ValidationError as exc:
        return _error(exc.message_dict)
    except InvalidCursor:
        return _error({"cursor": ["Invalid cursor."]})


def _page_json(request: HttpRequest, page: KeysetPage, results: Rows) -> HttpResponse:
    """``{"next", "previous", "results"}`` as /api/books/ writes it."""
    url = request.build_absolute_uri()

    def link(position: str | None) -> str | None:
        return (
            None if position is None else replace_query_param(url, "cursor", position)
        )

    body = {
        "next": link(page.next_cursor()),
        "previous": link(page.previous_cursor()),
        "results": results,
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json")


@require_safe
def ladder_books(request: HttpRequest, rung: str) -> HttpResponse:
    """One rung: throttle, validate, fetch a keyset page, shape, encode."""
    if (throttled := _throttled(request, rung)) is not None:
        return throttled
    checked = _checked_parameters(request)
    if isinstance(checked, HttpResponse):
        return checked
    filters, size, cursor = checked
    source, shape = RUNGS[rung](filters)
    if source is RAW:
        page: KeysetPage = RawPage(
            filters, ordering=filters.ordering, cursor=cursor, size=size
        )
    else:
        page = KeysetPage(source, ordering=filters.ordering, cursor=cursor, size=size)
    return _page_json(request, page, shape(page.rows, {"request": request}))


@require_safe
async def ladder_books_async(request: HttpRequest) -> HttpResponse:
    """The ``values`` rung as an ``async def`` view on the async ORM (2 queries).

    Django 5.2's async ORM runs each query in a worker thread (``sync_to_async``):
    the event loop is free while the database works, but the query costs what it
    does from a sync view, plus the hops between loop and thread.
    """
    throttled = await sync_to_async(_throttled)(request, ASYNC_RUNG)
    if throttled is not None:
        return throttled
    checked = _checked_parameters(request)
    if isinstance(checked, HttpResponse):
        return checked
    filters, size, cursor = checked
    books = Book.objects.for_list_rows().filter_by(filters)
    page = KeysetPage(books, ordering=filters.ordering, cursor=cursor, size=size)
    await page.aload()
    genres = await agenres_by_book([row["id"] for row in page.rows])
    results = book_list_items(page.rows, {"request": request}, genres=genres)
    return _page_json(request, page, results)


ASYNC_RUNG = "async"  # served by ladder_books_async, not by a RUNGS builder
ALL_RUNGS = (*RUNGS, ASYNC_RUNG)


@require_safe
def ceiling(request: HttpRequest) -> HttpResponse:
    """Constant JSON through the same middleware stack, no database: the ceiling.

    The body is a book-list page of the default size (20 items, the same shape and
    about the same bytes as /api/books/'s first page), so a cache hit, which sends such
    a page, is compared with the framework sending the same amount of JSON.
    """
    return HttpResponse(CEILING, content_type="application/json")


def _constant_item(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "url": f"http://localhost/api/books/{n}/",
        "title": f"A Constant Title Number {n} of the Ceiling",
        "isbn": "9780000000002",
        "published": "2001-05-01",
        "pages": 320,
        "price": "12.99",
        "author": {
            "id": n,
            "name": "Constance Ceiling",
            "url": f"http://localhost/api/authors/{n}/",
        },
        "publisher": {"id": 1, "name": "Fixed Press"},
        "genres": [
            {"id": 1, "name": "Fantasy", "slug": "fantasy"},
            {"id": 2, "name": "Science Fiction", "slug": "science-fiction"},
        ],
        "rating": {"average": 4.2, "count": 17},
    }


CEILING = orjson.dumps(
    {
        "next": "http://localhost/api/ladder/ceiling/?cursor=constant",
        "previous": None,
        "results": [_constant_item(n) for n in range(1, PAGE.page_size + 1)],
    }
)
