"""HTML pages: the book list (keyset-paginated), one book, one author.

Generic CBVs over the QuerySet methods the API uses (``for_list()``/``for_detail()``),
the same validated list parameters (``books.filters``) and the same keyset pages and
cursors (``books.keyset``). Anonymous GETs are served whole from the response cache (0
queries warm, ETag/304). ``{% cache %}`` fragments keyed by the generation (a page's
book cards, the genre sidebar) serve logged-in visitors, who bypass the shared response
cache, and spare other pages the sidebar's query. The book cards of the list are read
lazily, so a fragment hit runs no query at all.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import BadRequest, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch, reverse
from django.views.generic import DetailView, ListView

from books.cache import freshness, responses
from books.cache.middleware import CachePolicy
from books.filters import BookFilters
from books.keyset import InvalidCursor, KeysetPage, decode_cursor
from books.models import AUTHOR_RECENT_BOOKS, Author, Book, Genre
from books.tasks import cached_catalogue_stats
from core.http import is_anonymous_request

if TYPE_CHECKING:
    from django.views.generic.base import ContextMixin, View

    class _PageView(ContextMixin, View):  # what CachedPageMixin is mixed into
        pass
else:
    _PageView = object

PAGE_SIZE = 20


class CachedPageMixin(_PageView):
    """Serve anonymous GETs through ``books.cache.responses.cached_response``."""

    cache_namespace = "page"
    # The query parameters the page reads; any others are left out of the cache key.
    query_params: Collection[str] = frozenset()

    @classmethod
    def cache_policy(cls, match: ResolverMatch, request: HttpRequest) -> CachePolicy:
        """The key the front door computes for a hit (``books.cache.middleware``)."""
        return CachePolicy(namespace=cls.cache_namespace, params=cls.query_params)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # ListView/DetailView.get, next in the MRO: no declared base of a mixin has it.
        render = super().get  # type: ignore[misc]
        if not is_anonymous_request(request):
            return render(request, *args, **kwargs)
        return responses.cached_response(
            request,
            lambda: render(request, *args, **kwargs),
            namespace=self.cache_namespace,
            params=self.query_params,
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(freshness.fragment_context(self.request))
        # Lazy: the sidebar fragment evaluates it only on a fragment miss.
        context["genres"] = Genre.objects.order_by("name")
        context["list_url"] = reverse("books:book-list")  # once, not once per card
        return context


@dataclass
class Pager:
    """Links for one keyset page of the HTML list, keeping the list's parameters."""

    page: KeysetPage
    query: dict[str, str]
    raw_cursor: str | None = None

    def _url(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return "?" + urlencode({**self.query, "cursor": cursor})

    @property
    def object_list(self) -> list[Book]:
        return self.page.rows

    def __iter__(self):
        return iter(self.page)

    @property
    def next_url(self) -> str | None:
        return self._url(self.page.next_cursor())

    @property
    def previous_url(self) -> str | None:
        return self._url(self.page.previous_cursor())

    @property
    def first_url(self) -> str:
        return "?" + urlencode(self.query)

    @cached_property
    def key(self) -> str:
        """Identifies the page in fragment keys (the parameters and the cursor)."""
        return urlencode(sorted({**self.query, "c": self.raw_cursor or ""}.items()))


# --- Pages ----------------------------------------------------------------------------


class BookListView(CachedPageMixin, ListView):
    """``/``: newest books first, with the API's filters; <= 3 queries cold, 0 warm."""

    template_name = "books/book_list.html"
    context_object_name = "books"
    paginate_by = PAGE_SIZE
    query_params = BookFilters.PARAMETERS | {"cursor"}

    @cached_property
    def filters(self) -> BookFilters:
        try:
            return BookFilters.from_query(self.request.GET)
        except ValidationError as exc:
            raise BadRequest(
                f"Invalid parameters: {', '.join(exc.message_dict)}"
            ) from exc

    def get_queryset(self) -> QuerySet[Book]:
        return Book.objects.for_list().filter_by(self.filters)

    def paginate_queryset(self, queryset, page_size):
        encoded = self.request.GET.get("cursor") or None
        try:
            cursor = encoded and decode_cursor(encoded, self.filters.ordering, Book)
        except InvalidCursor as exc:
            raise BadRequest("Invalid cursor.") from exc
        page = KeysetPage(
            queryset,
            ordering=self.filters.ordering,
            cursor=cursor or None,
            size=page_size,
        )
        pager = Pager(page, self.filters.as_query(), raw_cursor=encoded)
        return None, pager, pager, True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["genre_slug"] = self.filters.genre or ""
        context["stats"] = cached_catalogue_stats()
        context["show_bench_report"] = settings.DEBUG  # /bench/ answers under DEBUG
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
