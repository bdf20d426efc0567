"""The domain: publishers, authors, genres, books and reviews.

Reads go through the QuerySet methods below (``published()``-style adjectives filter,
``with_*()`` annotate, ``for_*()`` bundle everything one consumer needs), so the API,
the HTML pages and ``bench`` all tune one shared query plan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import (
    Avg,
    Count,
    F,
    Lookup,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

if TYPE_CHECKING:
    from books.filters import BookFilters


# What querysets add to instances, for django_stubs_ext.WithAnnotations[Model, ...]
# in the signatures that receive such instances (type checking only).
class BookCount(TypedDict):
    """``AuthorQuerySet.with_book_count()``."""

    book_count: int


class Rating(TypedDict):
    """``BookQuerySet.with_rating()``: no average without reviews."""

    rating_average: float | None
    rating_count: int


class BookDetail(Rating):
    """``BookQuerySet.for_detail()``: the rating and a ``to_attr`` prefetch."""

    recent_reviews: list[Review]


class RecentBooks(TypedDict):
    """Set by the author detail views: ``BookQuerySet.for_author()[:n]``."""

    recent_books: list[Book]


RECENT_REVIEWS = 5
AUTHOR_RECENT_BOOKS = 20


def isbn13_check_digit(first12: str) -> str:
    """The ISBN-13 check digit for the first twelve digits (weights 1, 3, 1, 3, ...)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def validate_isbn13(value: str) -> None:
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        raise ValidationError("An ISBN-13 is exactly 13 digits.", code="isbn_format")
    if isbn13_check_digit(value[:12]) != value[12]:
        raise ValidationError(
            "This ISBN-13 has a wrong check digit.", code="isbn_checksum"
        )


class InSubquery(Lookup):
    """``lhs IN (subquery)``, written ``lhs = ANY(ARRAY(subquery))`` on PostgreSQL.

    Inside an OR, PostgreSQL runs ``IN (SELECT ...)`` as a hashed SubPlan filter that no
    index can serve. ``ARRAY(...)`` runs the subquery once (an InitPlan) and
    ``= ANY(array)`` is an index condition, so each arm of the OR can use its own index
    and the planner can combine them with a BitmapOr.
    """

    lookup_name = "in_subquery"

    def as_sql(self, compiler, connection, template="%s IN %s"):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return template % (lhs, rhs), (*lhs_params, *rhs_params)

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template="%s = ANY(ARRAY%s)")


class Publisher(models.Model):
    name = models.CharField(max_length=200, unique=True)
    country = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Genre(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AuthorQuerySet(models.QuerySet["Author"]):
    def with_book_count(self) -> AuthorQuerySet:
        """Annotate ``book_count`` with a correlated subquery.

        A subquery (not ``Count("books")`` + GROUP BY) is evaluated only for the rows
        the page returns, so it stays cheap under LIMIT on a large table.
        """
        counts = (
            Book.objects.filter(author=OuterRef("pk"))
            .order_by()
            .values("author")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(book_count=Coalesce(Subquery(counts), Value(0)))

    def for_list(self) -> AuthorQuerySet:
        """One query: the author's own columns plus ``book_count``."""
        return self.defer("bio").with_book_count()

    def for_detail(self) -> AuthorQuerySet:
        """One query: the author with ``book_count``.

        Their books come from ``Book.objects.for_author(author)[:n]``, not a prefetch:
        one prolific author has thousands of books, and a page shows the newest few.
        """
        return self.with_book_count()


class Author(models.Model):
    name = models.CharField(max_length=200, db_index=True)
    bio = models.TextField(blank=True)
    born = models.DateField(null=True, blank=True)
    country = models.CharField(max_length=100, blank=True)

    objects = AuthorQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("books:author-detail", args=[self.pk])


class BookQuerySet(models.QuerySet["Book"]):
    def with_rating(self) -> BookQuerySet:
        """Annotate ``rating_average`` and ``rating_count`` with correlated subqueries.

        Evaluated per returned row only, using the ``(book, -created)`` review index;
        a JOIN + GROUP BY would aggregate every review before the LIMIT applies.
        """
        reviews = Review.objects.filter(book=OuterRef("pk")).order_by().values("book")
        return self.annotate(
            rating_average=Subquery(reviews.annotate(a=Avg("rating")).values("a")),
            rating_count=Coalesce(
                Subquery(reviews.annotate(c=Count("pk")).values("c")), Value(0)
            ),
        )

    def search(self, text: str) -> BookQuerySet:
        """Books whose title or author's name contains ``text``, case-insensitively.

        On PostgreSQL both arms use the trigram GIN indexes on ``UPPER(...)`` from
        migration 0002 (``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(%s)``).
        """
        authors = Author.objects.filter(name__icontains=text).order_by().values("pk")
        return self.filter(
            Q(title__icontains=text) | Q(InSubquery(F("author"), authors))
        )

    def filter_by(self, filters: BookFilters) -> BookQuerySet:
        """Apply validated list parameters (``books.filters``); ordering is the
        paginator's business. Every filter is one indexed condition."""
        books = self
        if filters.author is not None:
            books = books.filter(author_id=filters.author)
        if filters.genre:
            books = books.filter(genres__slug=filters.genre)
        if filters.publisher is not None:
            books = books.filter(publisher_id=filters.publisher)
        if filters.published_after:
            books = books.filter(published__gte=filters.published_after)
        if filters.published_before:
            books = books.filter(published__lte=filters.published_before)
        if filters.search:
            books = books.search(filters.search)
        return books

    def for_list(self) -> BookQuerySet:
        """Two queries: books joined to author and publisher, then their genres.

        ``description`` is deferred: list consumers never show it.
        """
        return (
            self.select_related("author", "publisher")
            .only(
                "id",
                "title",
                "isbn",
                "published",
                "pages",
                "price",
                "updated",
                "author",
                "publisher",
                "author__id",
                "author__name",
                "publisher__id",
                "publisher__name",
            )
            .prefetch_related(
                Prefetch("genres", queryset=Genre.objects.order_by("name"))
            )
            .with_rating()
        )

    def for_list_rows(self) -> BookQuerySet:
        """``for_list()``'s first query as dicts: no model instance per row.

        The same JOINs and rating subqueries, the listed columns only; pair the rows
        with ``genres_by_book()`` (the second query). On a page of 100 books the
        instances (book, author, publisher, genres) cost more than the SQL. Building
        the annotations costs ~0.4 ms a request, so the unfiltered form is built once
        per process and cloned.
        """
        if _is_plain(self):
            return _prototype("list_rows", self.db, self._build_list_rows).all()
        return self._build_list_rows()

    def _build_list_rows(self) -> BookQuerySet:
        return self.with_rating().values(
            *LIST_COLUMNS, "rating_average", "rating_count"
        )

    def for_author(self, author: Author) -> BookQuerySet:
        """An author's books, newest first, for listing; slice it (two queries).

        The scan walks ``book_author_pub_idx`` and stops at the LIMIT, so the rating
        subqueries run for the returned rows only. A sliced ``Prefetch`` would not:
        its ROW_NUMBER() window computes them for every book before the cut.
        """
        return self.for_list().filter(author=author).order_by("-published", "-id")

    def for_detail(self) -> BookQuerySet:
        """Three queries: the book (all columns), its genres, its newest reviews.

        The sliced Prefetch becomes ROW_NUMBER() OVER (PARTITION BY book) <= 5, so a
        book with thousands of reviews loads only its newest five.
        """
        recent = Review.objects.order_by("-created", "-id")[:RECENT_REVIEWS]
        return (
            self.select_related("author", "publisher")
            .prefetch_related(
                Prefetch("genres", queryset=Genre.objects.order_by("name")),
                Prefetch("reviews", queryset=recent, to_attr="recent_reviews"),
            )
            .with_rating()
        )


_PROTOTYPES: dict[tuple[str, str], models.QuerySet] = {}
_Q = TypeVar("_Q", bound=models.QuerySet[Any])


def _prototype(name: str, db: str, build: Callable[[], _Q]) -> _Q:
    """A queryset built once per process and database, never evaluated: callers
    clone it (``.all()``, ``.filter()``), which skips resolving its expressions."""
    key = (name, db)
    if key not in _PROTOTYPES:
        _PROTOTYPES[key] = build()
    return cast(_Q, _PROTOTYPES[key])  # what ``build`` made under this name


def _is_plain(queryset: models.QuerySet) -> bool:
    """An untouched ``Model.objects`` queryset: no filter, annotation or order."""
    query = queryset.query
    return (
        not query.where
        and not query.annotations
        and not query.order_by
        and not query.select_related
        and query.low_mark == 0
        and query.high_mark is None
        # A private attribute (set by .using()), absent from django-stubs.
        and queryset._db is None  # type: ignore[attr-defined]
    )


# The columns a list shows (for_list_rows()); ``description`` never travels.
LIST_COLUMNS = (
    "id",
    "title",
    "isbn",
    "published",
    "pages",
    "price",
    "author_id",
    "author__name",
    "publisher_id",
    "publisher__name",
)


def _genre_links(book_ids: list[int]) -> models.QuerySet:
    """``(book_id, genre_id, name, slug)`` of the books' genres, by name."""
    links = _prototype(
        "genre_links",
        "default",
        lambda: Book.genres.through.objects.order_by("genre__name").values_list(
            "book_id", "genre_id", "genre__name", "genre__slug"
        ),
    )
    return links.filter(book_id__in=book_ids)


def _by_book(rows) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for book_id, genre_id, name, slug in rows:
        found.setdefault(book_id, []).append(
            {"id": genre_id, "name": name, "slug": slug}
        )
    return found


def genres_by_book(book_ids: list[int]) -> dict[int, list[dict]]:
    """Each book's genres, by name, in one query (the through table joined to
    Genre): ``{book_id: [{"id", "name", "slug"}, ...]}``."""
    return _by_book(_genre_links(book_ids)) if book_ids else {}


async def agenres_by_book(book_ids: list[int]) -> dict[int, list[dict]]:
    """``genres_by_book()`` through the async ORM: the same one query."""
    if not book_ids:
        return {}
    return _by_book([row async for row in _genre_links(book_ids)])


class Book(models.Model):
    title = models.CharField(max_length=300, db_index=True)
    isbn = models.CharField(max_length=13, unique=True, validators=[validate_isbn13])
    # The (author, -published, -id) index serves author lookups; no second FK index.
    author = models.ForeignKey(
        Author, on_delete=models.PROTECT, related_name="books", db_index=False
    )
    publisher = models.ForeignKey(
        Publisher,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="books",
    )
    genres = models.ManyToManyField(Genre, related_name="books", blank=True)
    # Indexed as the leading column of book_published_id_idx below; a single-column
    # index as well would only cost writes (and tempt the planner into a sort).
    published = models.DateField()
    pages = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=8, decimal_places=2)
    description = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = BookQuerySet.as_manager()

    class Meta:
        ordering = ["-published", "-id"]
        indexes = [
            # The default list order, as one composite index that keyset pagination
            # walks: WHERE (published, id) < (x, y) ORDER BY published DESC, id DESC.
            models.Index(fields=["-published", "-id"], name="book_published_id_idx"),
            # An author's books, newest first (author pages, ?author= filter).
            models.Index(
                fields=["author", "-published", "-id"], name="book_author_pub_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(pages__gt=0), name="book_pages_positive"
            ),
            models.CheckConstraint(
                condition=Q(price__gt=0), name="book_price_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("books:book-detail", args=[self.pk])


class Review(models.Model):
    # Covered by review_book_created_idx, which leads with book.
    book = models.ForeignKey(
        Book, on_delete=models.CASCADE, related_name="reviews", db_index=False
    )
    reviewer = models.CharField(max_length=100)
    # Who wrote it, for reviews posted by a signed-in user (``reviewer`` is then their
    # name); seeded and imported reviews have only a name. Deleting the user keeps
    # the review and its name.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reviews",
    )
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # A book's reviews newest first, and the per-book rating subqueries.
            models.Index(
                fields=["book", "-created", "-id"], name="review_book_created_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5),
                name="review_rating_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} on {self.book_id}: {self.rating}"


class CatalogueVersion(models.Model):
    """One row whose ``version`` the database bumps on every catalogue write.

    Triggers created by migration 0003 run inside the writing transaction, so the new
    version commits (and becomes visible) together with the rows it describes, however
    they were written. ``books.cache.freshness`` publishes it as the cache generation.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"catalogue version {self.version}"
