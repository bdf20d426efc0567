"""The untuned twins: the same parameters and the same JSON, the tutorial way.

``Model.objects.all()``, nested ``ModelSerializer``s that fetch each relation row by
row, and ``SerializerMethodField``s that query: a list page of N books runs 4N + 1
queries (author, publisher, genres and rating per book). No caching, and DRF's stdlib
JSON renderer. They exist to be measured against ``api/viewsets.py``.

Parameter validation and the paginator are shared with the tuned views on purpose:
they are the contract (same 400s, same cursors), not the tuning. The only difference
in a response body is the path of ``next``/``previous``: each twin links to its own
next page, with the identical cursor.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import Avg, Count, Q
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.renderers import JSONRenderer

from api.filters import book_filter_parameters, book_filters
from api.pagination import KeysetPagination
from api.renderers import BrowsableAPIRenderer
from api.serializers import (
    AuthorListSerializer,
    BookListSerializer,
    GenreRefSerializer,
    PublisherRefSerializer,
    RatingSerializer,
    ReviewSerializer,
    books_url,
    rating_average,
)
from api.viewsets import AUTHOR_ORDERING
from books.filters import BookFilters
from books.keyset import Ordering
from books.models import (
    AUTHOR_RECENT_BOOKS,
    RECENT_REVIEWS,
    Author,
    Book,
)


class NaiveAuthorRefSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:author-detail")

    class Meta:
        model = Author
        fields = ["id", "name", "url"]


class NaiveBookSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:book-detail")
    author = NaiveAuthorRefSerializer()
    publisher = PublisherRefSerializer(allow_null=True)
    genres = serializers.SerializerMethodField()
    rating = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = BookListSerializer.Meta.fields  # the contract's shape, by definition

    @extend_schema_field(GenreRefSerializer(many=True))
    def get_genres(self, book: Book) -> list[dict]:
        # drf-stubs: .data is a ReturnDict; many=True gives a ReturnList.
        return GenreRefSerializer(book.genres.order_by("name"), many=True).data  # type: ignore[return-value]

    @extend_schema_field(RatingSerializer)
    def get_rating(self, book: Book) -> dict[str, Any]:
        stats = book.reviews.aggregate(average=Avg("rating"), count=Count("id"))
        return {"average": rating_average(stats["average"]), "count": stats["count"]}


class NaiveBookDetailSerializer(NaiveBookSerializer):
    recent_reviews = serializers.SerializerMethodField()

    class Meta(NaiveBookSerializer.Meta):
        fields = [*NaiveBookSerializer.Meta.fields, "description", "recent_reviews"]

    @extend_schema_field(ReviewSerializer(many=True))
    def get_recent_reviews(self, book: Book) -> list[dict]:
        reviews = book.reviews.order_by("-created", "-id")[:RECENT_REVIEWS]
        # drf-stubs: .data is a ReturnDict; many=True gives a ReturnList.
        return ReviewSerializer(reviews, many=True, context=self.context).data  # type: ignore[return-value]


class NaiveAuthorSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:author-detail")
    book_count = serializers.SerializerMethodField()

    class Meta:
        model = Author
        fields = AuthorListSerializer.Meta.fields

    def get_book_count(self, author: Author) -> int:
        return author.books.count()


class NaiveAuthorDetailSerializer(NaiveAuthorSerializer):
    books = serializers.SerializerMethodField()
    books_url = serializers.SerializerMethodField()

    class Meta(NaiveAuthorSerializer.Meta):
        fields = [*NaiveAuthorSerializer.Meta.fields, "bio", "books", "books_url"]

    @extend_schema_field(NaiveBookSerializer(many=True))
    def get_books(self, author: Author) -> list[dict]:
        books = author.books.all()[:AUTHOR_RECENT_BOOKS]
        # drf-stubs: .data is a ReturnDict; many=True gives a ReturnList.
        return NaiveBookSerializer(books, many=True, context=self.context).data  # type: ignore[return-value]

    def get_books_url(self, author: Author) -> str:
        return books_url(self.context["request"], author)


@extend_schema_view(list=extend_schema(parameters=book_filter_parameters()))
class NaiveBookViewSet(viewsets.ReadOnlyModelViewSet):
    """The book list and detail, untuned."""

    throttle_scope = "naive"  # api.throttles: a strict budget of its own
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    pagination_class = KeysetPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        books = Book.objects.all()
        if self.action != "list":
            return books
        # The validated parameters are shared; applying them stays tutorial-style.
        params = self.filters
        if params.author:
            books = books.filter(author=params.author)
        if params.genre:
            books = books.filter(genres__slug=params.genre)
        if params.publisher:
            books = books.filter(publisher=params.publisher)
        if params.published_after:
            books = books.filter(published__gte=params.published_after)
        if params.published_before:
            books = books.filter(published__lte=params.published_before)
        if params.search:
            books = books.filter(
                Q(title__icontains=params.search)
                | Q(author__name__icontains=params.search)
            )
        return books

    def get_serializer_class(self):
        if self.action == "list":
            return NaiveBookSerializer
        return NaiveBookDetailSerializer

    @cached_property
    def filters(self) -> BookFilters:
        return book_filters(self.request)

    def get_ordering(self) -> Ordering:
        return self.filters.ordering


class NaiveAuthorViewSet(viewsets.ReadOnlyModelViewSet):
    """The author list and detail, untuned."""

    throttle_scope = "naive"
    queryset = Author.objects.all()
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    pagination_class = KeysetPagination
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        if self.action == "list":
            return NaiveAuthorSerializer
        return NaiveAuthorDetailSerializer

    def get_ordering(self) -> Ordering:
        return AUTHOR_ORDERING
