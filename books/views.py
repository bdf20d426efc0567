"""HTML pages: the book list (keyset-paginated), one book, one author.

Generic CBVs over the QuerySet methods the API uses (``for_list()``/``for_detail()``).
Anonymous GETs are served whole from the response cache (0 queries warm, ETag/304).
``{% cache %}`` fragments keyed by the generation (a page's book cards, the genre
sidebar) serve logged-in visitors, who bypass the shared response cache, and spare
other pages the sidebar's query. The book cards of the list are read lazily, so a
fragment hit runs no query at all.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import BadRequest
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.generic import DetailView, ListView

from books import cache
from books.models import AUTHOR_RECENT_BOOKS, Author, Book, Genre

PAGE_SIZE = 20


class CachedPageMixin:
    """Serve anonymous GETs through ``books.cache.cached_response``."""

    cache_namespace = "page"
    # The query parameters the page reads; any others are left out of the cache key.
    query_params: frozenset[str] = frozenset()

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        render = super().get  # type: ignore[misc]
        if not cache.is_anonymous_request(request):
            return render(request, *args, **kwargs)
        return cache.cached_response(
            request,
            lambda: render(request, *args, **kwargs),
            namespace=self.cache_namespace,
            params=self.query_params,
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(cache.fragment_context())
        # Lazy: the sidebar fragment evaluates it only on a fragment miss.
        context["genres"] = Genre.objects.order_by("name")
        context["list_url"] = reverse("books:book-list")  # once, not once per card
        return context


# --- Keyset pagination ----------------------------------------------------------------


def _parse_cursor(raw: str) -> tuple[datetime.date, int]:
    try:
        published, pk = raw.split("_", 1)
        return datetime.date.fromisoformat(published), int(pk)
    except ValueError:
        raise BadRequest("Invalid cursor.") from None


def _cursor(book: Book) -> str:
    return f"{book.published.isoformat()}_{book.pk}"


@dataclass
class KeysetPage:
    """One page in (-published, -id) order, walked from a cursor, never an OFFSET.

    Evaluated lazily, so a cached fragment that needs no rows runs no query. The
    ``published <=`` / ``>=`` bound is what lets PostgreSQL start the index scan at the
    cursor instead of filtering every newer row first.
    """

    queryset: QuerySet[Book]
    after: str | None
    before: str | None
    params: dict[str, str]
    size: int = PAGE_SIZE

    @cached_property
    def _rows(self) -> tuple[list[Book], bool]:
        qs = self.queryset
        if self.before:
            published, pk = _parse_cursor(self.before)
            qs = qs.filter(
                Q(published__gt=published) | Q(published=published, pk__gt=pk),
                published__gte=published,
            ).order_by("published", "id")
            rows = list(qs[: self.size + 1])
            return rows[: self.size][::-1], len(rows) > self.size
        if self.after:
            published, pk = _parse_cursor(self.after)
            qs = qs.filter(
                Q(published__lt=published) | Q(published=published, pk__lt=pk),
                published__lte=published,
            )
        rows = list(qs.order_by("-published", "-id")[: self.size + 1])
        return rows[: self.size], len(rows) > self.size

    @property
    def object_list(self) -> list[Book]:
        return self._rows[0]

    def __iter__(self):
        return iter(self.object_list)

    def _url(self, **cursor: str) -> str:
        return "?" + urlencode({**self.params, **cursor})

    @property
    def next_url(self) -> str | None:
        rows, more = self._rows
        if rows and (more or self.before):
            return self._url(after=_cursor(rows[-1]))
        return None

    @property
    def previous_url(self) -> str | None:
        rows, more = self._rows
        if rows and (self.after or (self.before and more)):
            return self._url(before=_cursor(rows[0]))
        return None

    @property
    def first_url(self) -> str:
        return self._url()

    @property
    def cursor(self) -> str:
        """Identifies the page in fragment keys."""
        return f"a{self.after or ''}b{self.before or ''}"


# --- Pages ----------------------------------------------------------------------------


class BookListView(CachedPageMixin, ListView):
    """``/``: newest books first, optionally one genre; <= 3 queries cold, 0 warm."""

    template_name = "books/book_list.html"
    context_object_name = "books"
    paginate_by = PAGE_SIZE
    query_params = frozenset({"genre", "after", "before"})

    def get_queryset(self) -> QuerySet[Book]:
        books = Book.objects.for_list()
        if genre := self.request.GET.get("genre"):
            books = books.filter(genres__slug=genre)
        return books

    def paginate_queryset(self, queryset, page_size):
        params = {}
        if genre := self.request.GET.get("genre"):
            params["genre"] = genre
        page = KeysetPage(
            queryset,
            after=self.request.GET.get("after"),
            before=self.request.GET.get("before"),
            params=params,
            size=page_size,
        )
        return None, page, page, True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["genre_slug"] = self.request.GET.get("genre", "")
        return context


class BookDetailView(CachedPageMixin, DetailView):
    """``/books/<id>/``: one book with its newest reviews.

    3 queries cold (+1 for the genre sidebar if its fragment is cold too), 0 warm.
    """

    template_name = "books/book_detail.html"
    context_object_name = "book"

    def get_queryset(self) -> QuerySet[Book]:
        return Book.objects.for_detail()


class AuthorDetailView(CachedPageMixin, DetailView):
    """``/authors/<id>/``: an author and their newest books.

    3 queries cold (+1 for the genre sidebar if its fragment is cold too), 0 warm.
    """

    template_name = "books/author_detail.html"
    context_object_name = "author"

    def get_queryset(self) -> QuerySet[Author]:
        return Author.objects.for_detail()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # Lazy, like the list page: a fragment hit runs no query.
        context["books"] = Book.objects.for_author(self.object)[:AUTHOR_RECENT_BOOKS]
        context["books_shown"] = min(self.object.book_count, AUTHOR_RECENT_BOOKS)
        return context
