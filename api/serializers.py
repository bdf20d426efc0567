"""Serializers shape data and nothing else: no queries, only annotated attributes.

Reads use separate list and detail serializers over the ``for_list()`` /
``for_detail()`` querysets; writes validate input with ``*WriteSerializer`` classes and
hand the result to ``books.services``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from django.db.models import Q
from django.urls import get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from books.models import Author, Book, Genre, Publisher, Review, genres_by_book

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from books.models import BookDetail, Rating

    # What DetailLinkMixin is mixed into.
    _HyperlinkedField = serializers.HyperlinkedRelatedField
else:
    _HyperlinkedField = object


def rating_average(value: float | Decimal | None) -> float | None:
    """PostgreSQL's AVG gives a Decimal, SQLite's a float: round both the same way."""
    return None if value is None else round(float(value), 2)


# A pk no real route or host contains: reversed once, then swapped for each real pk.
_PK_PLACEHOLDER = 9_876_543_210_123


def detail_url(context: dict, view_name: str, pk: int) -> str:
    """The absolute URL of ``view_name`` for ``pk``, reversing the route once a request.

    ``reverse()`` walks the resolver on every call: on a 100-book page, the book and
    author links alone were about half of DRF's serialization time.
    """
    parts = context.setdefault("_url_parts", {})
    if view_name not in parts:
        path = _path_template(view_name, get_script_prefix(), get_urlconf())
        url = context["request"].build_absolute_uri(path)
        parts[view_name] = url.split(str(_PK_PLACEHOLDER))
    prefix, suffix = parts[view_name]
    return f"{prefix}{pk}{suffix}"


@lru_cache(maxsize=64)
def _path_template(view_name: str, script_prefix: str, urlconf: str | None) -> str:
    """The route's path with the placeholder pk: one resolver walk per process."""
    return django_reverse(view_name, kwargs={"pk": _PK_PLACEHOLDER}, urlconf=urlconf)


def url_template(context: dict, view_name: str) -> tuple[str, str]:
    """``(prefix, suffix)`` around the pk in ``view_name``'s absolute URL."""
    prefix, suffix = detail_url(context, view_name, _PK_PLACEHOLDER).split(
        str(_PK_PLACEHOLDER)
    )
    return prefix, suffix


class DetailLinkMixin(_HyperlinkedField):
    """Hyperlink fields that build their URL with ``detail_url()``."""

    def get_url(self, obj, view_name, request, format):
        if format or obj.pk is None:
            return super().get_url(obj, view_name, request, format)
        return detail_url(self.context, view_name, obj.pk)


class LinkField(DetailLinkMixin, serializers.HyperlinkedIdentityField):
    pass


class RelatedLinkField(DetailLinkMixin, serializers.HyperlinkedRelatedField):
    pass


# --- nested references ----------------------------------------------------------------


class AuthorRefSerializer(serializers.ModelSerializer):
    url = LinkField(view_name="api:author-detail")

    class Meta:
        model = Author
        fields = ["id", "name", "url"]


class PublisherRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Publisher
        fields = ["id", "name"]


class GenreRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Genre
        fields = ["id", "name", "slug"]


@extend_schema_field(OpenApiTypes.DOUBLE)
class RatingAverageField(serializers.ReadOnlyField):
    def to_representation(self, value):
        return rating_average(value)


class RatingSerializer(serializers.Serializer):
    """``{"average", "count"}`` from the ``with_rating()`` annotations."""

    average = RatingAverageField(source="rating_average", allow_null=True)
    count = serializers.IntegerField(source="rating_count", read_only=True)


# --- reads ----------------------------------------------------------------------------


class ReviewSerializer(serializers.ModelSerializer):
    url = LinkField(view_name="api:review-detail")
    # A hyperlink built from book_id alone: no query for the book.
    book = RelatedLinkField(view_name="api:book-detail", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "url", "book", "reviewer", "rating", "body", "created"]


class BookListSerializer(serializers.ModelSerializer):
    """The declared fields document the shape (and the OpenAPI schema); the JSON is
    built by ``to_representation()`` below, the one fast path of the API."""

    url = LinkField(view_name="api:book-detail")
    author = AuthorRefSerializer(read_only=True)
    publisher = PublisherRefSerializer(read_only=True, allow_null=True)
    genres = GenreRefSerializer(many=True, read_only=True)
    rating = RatingSerializer(source="*", read_only=True)

    class Meta:
        model = Book
        fields = [
            "id",
            "url",
            "title",
            "isbn",
            "published",
            "pages",
            "price",
            "author",
            "publisher",
            "genres",
            "rating",
        ]

    def to_representation(self, book: WithAnnotations[Book, Rating]) -> dict[str, Any]:
        """The declared fields' JSON, written out by hand.

        DRF walks ~25 field objects per book (nested serializers included); on a
        100-book page that cost several times the two queries. Plain dict building
        gives the same JSON several times faster; ``tests/api/test_serializers.py``
        compares it with DRF's generic ``to_representation()`` so they cannot drift.
        """
        author, publisher = book.author, book.publisher
        return {
            "id": book.pk,
            "url": detail_url(self.context, "api:book-detail", book.pk),
            "title": book.title,
            "isbn": book.isbn,
            "published": book.published.isoformat(),
            "pages": book.pages,
            "price": self.fields["price"].to_representation(book.price),
            "author": {
                "id": author.pk,
                "name": author.name,
                "url": detail_url(self.context, "api:author-detail", author.pk),
            },
            "publisher": (
                {"id": publisher.pk, "name": publisher.name} if publisher else None
            ),
            "genres": [
                {"id": genre.pk, "name": genre.name, "slug": genre.slug}
                for genre in book.genres.all()
            ],
            "rating": {
                "average": rating_average(book.rating_average),
                "count": book.rating_count,
            },
        }


def book_list_items(
    rows: list[dict[str, Any]],
    context: dict,
    genres: dict[int, list[dict]] | None = None,
) -> list[dict[str, Any]]:
    """``BookListSerializer``'s JSON for ``for_list_rows()`` dicts, plus one query for
    their genres (unless ``genres_by_book()``'s result is given): the tuned list's
    path, with no model instance anywhere."""
    if genres is None:
        genres = genres_by_book([row["id"] for row in rows])
    book_url = url_template(context, "api:book-detail")
    author_url = url_template(context, "api:author-detail")
    return [
        {
            "id": row["id"],
            "url": f"{book_url[0]}{row['id']}{book_url[1]}",
            "title": row["title"],
            "isbn": row["isbn"],
            "published": row["published"].isoformat(),
            "pages": row["pages"],
            "price": f"{row['price']:.2f}",
            "author": {
                "id": row["author_id"],
                "name": row["author__name"],
                "url": f"{author_url[0]}{row['author_id']}{author_url[1]}",
            },
            "publisher": (
                {"id": row["publisher_id"], "name": row["publisher__name"]}
                if row["publisher_id"] is not None
                else None
            ),
            "genres": genres.get(row["id"], []),
            "rating": {
                "average": rating_average(row["rating_average"]),
                "count": row["rating_count"],
            },
        }
        for row in rows
    ]


class BookDetailSerializer(BookListSerializer):
    recent_reviews = ReviewSerializer(many=True, read_only=True)

    class Meta(BookListSerializer.Meta):
        fields = [*BookListSerializer.Meta.fields, "description", "recent_reviews"]

    def to_representation(self, book: WithAnnotations[Book, Rating]) -> dict[str, Any]:
        data = super().to_representation(book)
        data["description"] = book.description
        # Given for_detail()'s books (a narrower parameter would break the override).
        detail = cast("WithAnnotations[Book, BookDetail]", book)
        data["recent_reviews"] = self.fields["recent_reviews"].to_representation(
            detail.recent_reviews
        )
        return data


class GenreSerializer(serializers.ModelSerializer):
    url = LinkField(view_name="api:genre-detail")

    class Meta:
        model = Genre
        fields = ["id", "url", "name", "slug"]


class PublisherSerializer(serializers.ModelSerializer):
    url = LinkField(view_name="api:publisher-detail")

    class Meta:
        model = Publisher
        fields = ["id", "url", "name", "country"]


class AuthorListSerializer(serializers.ModelSerializer):
    url = LinkField(view_name="api:author-detail")
    book_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Author
        fields = ["id", "url", "name", "born", "country", "book_count"]


class AuthorDetailSerializer(AuthorListSerializer):
    # Newest books only (AUTHOR_RECENT_BOOKS): a prolific author has thousands.
    # The full list is a link away, at books_url.
    books = BookListSerializer(source="recent_books", many=True, read_only=True)
    books_url = serializers.SerializerMethodField()

    class Meta(AuthorListSerializer.Meta):
        fields = [*AuthorListSerializer.Meta.fields, "bio", "books", "books_url"]

    def get_books_url(self, author: Author) -> str:
        return books_url(self.context["request"], author)


def books_url(request, author: Author) -> str:
    """The book list filtered to one author: the complete ``books`` of a detail."""
    return f"{reverse('api:book-list', request=request)}?author={author.pk}"


# --- writes ---------------------------------------------------------------------------


GENRES_PER_BOOK = 10
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}")  # Genre.slug: a SlugField, max_length 100
_MAX_ID = 2**63 - 1  # BigAutoField


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class GenreRefField(serializers.Field):
    """One genre reference: an id (``3`` or ``"3"``) or a slug (``"fantasy"``).

    Checks the shape only, with no query: ``GenreListField`` looks up the whole list
    at once. Anything that cannot be an id or a slug (NUL, lone surrogates, spaces,
    objects) is invalid, and never echoed back.
    """

    default_error_messages = {"invalid": "Give a genre id or slug."}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str):
            text = data.strip()
            if _SLUG.fullmatch(text):
                return text
        self.fail("invalid")

    def to_representation(self, value: Genre) -> str:
        return value.slug


class GenreListField(serializers.ListField):
    """A book's genres: at most ``GENRES_PER_BOOK`` references, resolved in one query.

    The length is checked before anything else, so a huge list costs nothing; a
    digit string names the genre with that id, or else the one with that slug.
    """

    child = GenreRefField()
    default_error_messages = {
        "max_length": "A book has at most {max_length} genres.",
        "invalid_items": "Give each genre as an id or a slug; item {positions} is not.",
        "does_not_exist": "No genre with id or slug {values}.",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", GENRES_PER_BOOK)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Genre]:
        assert self.max_length is not None  # __init__ defaults it
        if isinstance(data, list | tuple) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        refs: list[int | str] = super().to_internal_value(data)
        if not refs:
            return []
        ids = {int(ref) for ref in refs if _is_id(ref)}
        slugs = {ref for ref in refs if isinstance(ref, str)}
        by_id, by_slug = {}, {}
        for genre in Genre.objects.filter(Q(pk__in=ids) | Q(slug__in=slugs)):
            by_id[genre.pk] = by_slug[genre.slug] = genre
        genres, missing = [], []
        for ref in refs:
            found = (by_id.get(int(ref)) if _is_id(ref) else None) or (
                by_slug.get(ref) if isinstance(ref, str) else None
            )
            if found is None:
                missing.append(str(ref))
            elif found not in genres:
                genres.append(found)
        if missing:
            self.fail("does_not_exist", values=", ".join(missing))
        return genres

    def run_child_validation(self, data: list) -> list[int | str]:
        """The items' shapes; one flat message naming the bad positions (DRF's
        ``{index: errors}`` would put integer keys in the JSON error)."""
        refs, bad = [], []
        for position, item in enumerate(data, start=1):
            try:
                refs.append(self.child.run_validation(item))
            except serializers.ValidationError:
                bad.append(str(position))
        if bad:
            self.fail("invalid_items", positions=", ".join(bad))
        return refs

    def to_representation(self, data: Any) -> list[str]:
        genres = data.all() if hasattr(data, "all") else data
        return [self.child.to_representation(genre) for genre in genres]


def _is_id(ref: int | str) -> bool:
    if isinstance(ref, int):
        return 0 < ref <= _MAX_ID
    return ref.isascii() and ref.isdigit() and 0 < int(ref) <= _MAX_ID


class BookWriteSerializer(serializers.ModelSerializer):
    author = serializers.PrimaryKeyRelatedField(queryset=Author.objects.all())
    publisher = serializers.PrimaryKeyRelatedField(
        queryset=Publisher.objects.all(), allow_null=True, required=False
    )
    genres = GenreListField(required=False)
    pages = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    price = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=Decimal("0.01")
    )

    class Meta:
        model = Book
        fields = [
            "title",
            "isbn",
            "author",
            "publisher",
            "genres",
            "published",
            "pages",
            "price",
            "description",
        ]


class ReviewWriteSerializer(serializers.ModelSerializer):
    """What a client may write on a review: POST, and PATCH (partial). ``reviewer``
    is not here: it is the signed-in user's name (``services.review_add``)."""

    rating = serializers.IntegerField(min_value=1, max_value=5)

    class Meta:
        model = Review
        fields = ["rating", "body"]


class AuthorWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["name", "bio", "born", "country"]
