"""The tuned API. Each action reads through the QuerySet method built for it.

Query budgets (anonymous request; ``tests/api/test_query_counts.py`` holds them at
two data sizes): book list 2, book detail 3, a book's reviews 2, author list 1,
author detail 3, genres 1, publishers 1. No COUNT anywhere: lists are keyset
paginated. ``list()`` and ``retrieve()`` are DRF's own, so a caching mixin can wrap
them; every write goes through ``books.services``.
"""

from __future__ import annotations

import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from django.db.models import Model
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.caching import CachedResponseMixin
from api.filters import book_filter_parameters, book_filters
from api.pagination import PAGE_PARAMETERS, KeysetPagination
from api.permissions import CatalogueWritePermission, IsWriterOrStaff
from api.serializers import (
    AuthorDetailSerializer,
    AuthorListSerializer,
    AuthorWriteSerializer,
    BookDetailSerializer,
    BookListSerializer,
    BookWriteSerializer,
    GenreSerializer,
    PublisherSerializer,
    ReviewSerializer,
    ReviewWriteSerializer,
    book_list_items,
)
from books import services
from books.filters import BookFilters
from books.keyset import Ordering
from books.models import AUTHOR_RECENT_BOOKS, Author, Book, Genre, Publisher, Review
from books.tasks import catalogue_stats

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations
    from rest_framework.generics import GenericAPIView

    from books.models import RecentBooks

    _GenericView = GenericAPIView  # what WriteThroughServicesMixin is mixed into
else:
    _GenericView = Generic

_M = TypeVar("_M", bound=Model)

REVIEW_ORDERING: Ordering = ("-created", "-id")
AUTHOR_ORDERING: Ordering = ("name", "id")

ReviewPageSerializer = inline_serializer(
    "PaginatedReviewList",
    {
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "results": ReviewSerializer(many=True),
    },
)
CONFLICT = OpenApiResponse(
    inline_serializer("Conflict", {"detail": serializers.CharField()}),
    description="The author still has books.",
)


class WriteThroughServicesMixin(_GenericView[_M]):
    """Writes: validate the body with the action's write serializer, call a service,
    answer with the object as GET would show it.

    Subclasses say which service (``create_object``, ``update_object``) and how to
    re-read the result (``detail_data``); no ORM write happens in the viewset.
    """

    def validated(
        self, serializer_class, instance=None, partial: bool = False
    ) -> dict[str, Any]:
        serializer = serializer_class(
            instance,
            data=self.request.data,
            partial=partial,
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def create(self, request: Request, *args, **kwargs) -> Response:
        instance = self.create_object(self.validated(self.get_serializer_class()))
        return Response(self.detail_data(instance), status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        instance = self.get_object()
        data = self.validated(
            self.get_serializer_class(), instance, partial=kwargs.get("partial", False)
        )
        return Response(self.detail_data(self.update_object(instance, data)))

    def create_object(self, data: dict[str, Any]) -> _M:
        raise NotImplementedError

    def update_object(self, instance: _M, data: dict[str, Any]) -> _M:
        raise NotImplementedError

    def detail_data(self, instance: _M) -> dict:
        raise NotImplementedError


@extend_schema_view(
    list=extend_schema(parameters=book_filter_parameters()),
    create=extend_schema(request=BookWriteSerializer, responses=BookDetailSerializer),
    update=extend_schema(request=BookWriteSerializer, responses=BookDetailSerializer),
    partial_update=extend_schema(
        request=BookWriteSerializer, responses=BookDetailSerializer
    ),
)
class BookViewSet(
    CachedResponseMixin, WriteThroughServicesMixin[Book], viewsets.ModelViewSet
):
    """Books: keyset-paginated list with filters, search and ordering; details."""

    permission_classes = [CatalogueWritePermission]
    pagination_class = KeysetPagination
    lookup_value_regex = r"\d+"
    cache_params = BookFilters.PARAMETERS | PAGE_PARAMETERS

    def get_queryset(self):
        match self.action:
            case "list":
                return Book.objects.for_list_rows().filter_by(self.filters)
            case "retrieve":
                return Book.objects.for_detail()
            case "reviews":
                return Book.objects.only("id")
            case _:
                return Book.objects.all()

    def get_serializer_class(self):
        match self.action:
            case "list":
                return BookListSerializer
            case "create" | "update" | "partial_update":
                return BookWriteSerializer
            case _:
                return BookDetailSerializer

    @cached_property
    def filters(self) -> BookFilters:
        return book_filters(self.request)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Dicts from ``for_list_rows()``, JSON by ``book_list_items()``: 2 queries."""
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # pagination_class is set
        items = book_list_items(page, self.get_serializer_context())
        return self.get_paginated_response(items)

    def get_ordering(self) -> Ordering:
        """The keyset the paginator walks."""
        if self.action == "reviews":
            return REVIEW_ORDERING
        return self.filters.ordering

    def detail_data(self, book: Book) -> dict:
        """A written book as GET would show it (re-read: ratings are annotations)."""
        book = Book.objects.for_detail().get(pk=book.pk)
        return BookDetailSerializer(book, context=self.get_serializer_context()).data

    def create_object(self, data: dict[str, Any]) -> Book:
        return services.book_create(**data)

    def update_object(self, instance: Book, data: dict[str, Any]) -> Book:
        return services.book_update(book=instance, data=data)

    def perform_destroy(self, instance: Book) -> None:
        services.book_delete(book=instance)

    @extend_schema(
        methods=["GET"],
        responses=ReviewPageSerializer,
        parameters=[
            OpenApiParameter("cursor", str, description="From a next/previous link."),
            OpenApiParameter("page_size", int, description="Default 20, at most 100."),
        ],
    )
    @extend_schema(
        methods=["POST"],
        request=ReviewWriteSerializer,
        responses={201: ReviewSerializer},
        description="Add a review as the signed-in user; ``reviewer`` is their name.",
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="reviews",
        url_name="reviews",
        # Reviews are not catalogue writes: any signed-in user may post one.
        permission_classes=[IsAuthenticatedOrReadOnly],
    )
    def reviews(self, request: Request, pk: str | None = None) -> Response:
        """A book's reviews, newest first (GET); add one as yourself (POST)."""
        book = self.get_object()
        context = self.get_serializer_context()
        if request.method == "POST":
            data = self.validated(ReviewWriteSerializer)
            assert request.user.is_authenticated  # the permission: only users POST
            review = services.review_add(book=book, user=request.user, **data)
            body = ReviewSerializer(review, context=context).data
            return Response(body, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(Review.objects.filter(book=book))
        body = ReviewSerializer(page, many=True, context=context).data
        return self.get_paginated_response(body)


@extend_schema_view(
    create=extend_schema(
        request=AuthorWriteSerializer, responses={201: AuthorDetailSerializer}
    ),
    update=extend_schema(
        request=AuthorWriteSerializer, responses=AuthorDetailSerializer
    ),
    partial_update=extend_schema(
        request=AuthorWriteSerializer, responses=AuthorDetailSerializer
    ),
    destroy=extend_schema(responses={204: None, 409: CONFLICT}),
)
class AuthorViewSet(
    CachedResponseMixin, WriteThroughServicesMixin[Author], viewsets.ModelViewSet
):
    """Authors with ``book_count``; the detail adds their newest books."""

    permission_classes = [CatalogueWritePermission]
    pagination_class = KeysetPagination
    lookup_value_regex = r"\d+"
    cache_params = PAGE_PARAMETERS

    def get_queryset(self):
        match self.action:
            case "list":
                return Author.objects.for_list()
            case "retrieve":
                return Author.objects.for_detail()
            case _:
                return Author.objects.all()

    def get_serializer_class(self):
        if self.action == "list":
            return AuthorListSerializer
        if self.action in {"create", "update", "partial_update"}:
            return AuthorWriteSerializer
        return AuthorDetailSerializer

    def get_ordering(self) -> Ordering:
        return AUTHOR_ORDERING

    def get_object(self) -> Author:
        author = super().get_object()
        if self.action == "retrieve":
            self._add_recent_books(author)
        return author

    @staticmethod
    def recent_books(author: Author) -> list[Book]:
        """Two queries (books, their genres): see ``BookQuerySet.for_author()``."""
        return list(Book.objects.for_author(author)[:AUTHOR_RECENT_BOOKS])

    def _add_recent_books(self, author: Author) -> None:
        """What AuthorDetailSerializer's ``books`` reads (source="recent_books")."""
        detail = cast("WithAnnotations[Author, RecentBooks]", author)
        detail.recent_books = self.recent_books(author)

    def detail_data(self, author: Author) -> dict:
        author = Author.objects.for_detail().get(pk=author.pk)
        self._add_recent_books(author)
        context = self.get_serializer_context()
        return AuthorDetailSerializer(author, context=context).data

    def create_object(self, data: dict[str, Any]) -> Author:
        return services.author_create(**data)

    def update_object(self, instance: Author, data: dict[str, Any]) -> Author:
        return services.author_update(author=instance, data=data)

    def perform_destroy(self, instance: Author) -> None:
        services.author_delete(author=instance)


class GenreViewSet(CachedResponseMixin, viewsets.ReadOnlyModelViewSet):
    """All genres, unpaginated: a small lookup list (a few dozen rows)."""

    queryset = Genre.objects.order_by("name")
    permission_classes = [CatalogueWritePermission]
    serializer_class = GenreSerializer
    pagination_class = None
    lookup_value_regex = r"\d+"


class PublisherViewSet(CachedResponseMixin, viewsets.ReadOnlyModelViewSet):
    """All publishers, unpaginated: a small lookup list (a few dozen rows)."""

    queryset = Publisher.objects.order_by("name")
    permission_classes = [CatalogueWritePermission]
    serializer_class = PublisherSerializer
    pagination_class = None
    lookup_value_regex = r"\d+"


@extend_schema_view(
    partial_update=extend_schema(
        request=ReviewWriteSerializer,
        responses=ReviewSerializer,
        description="Change the rating or body: the review's writer or staff only.",
    ),
    destroy=extend_schema(
        description="Delete the review: its writer or staff only.",
    ),
)
class ReviewViewSet(
    WriteThroughServicesMixin[Review],
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """One review (the target of every review's ``url``); its writer or staff may
    PATCH its rating and body or DELETE it. No PUT: the book and the reviewer are
    fixed once posted."""

    queryset = Review.objects.all()
    permission_classes = [IsAuthenticatedOrReadOnly, IsWriterOrStaff]
    http_method_names = ["get", "patch", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        if self.action == "partial_update":
            return ReviewWriteSerializer
        return ReviewSerializer

    def update_object(self, instance: Review, data: dict[str, Any]) -> Review:
        return services.review_update(review=instance, **data)

    def detail_data(self, review: Review) -> dict:
        return ReviewSerializer(review, context=self.get_serializer_context()).data

    def perform_destroy(self, instance: Review) -> None:
        services.review_delete(review=instance)


class CatalogueStatsView(APIView):
    """Catalogue-wide figures, computed in the background (``refresh_catalogue_stats``
    on beat) and read from the cache: no query unless the cache lost them."""

    @extend_schema(
        responses=inline_serializer(
            "CatalogueStats",
            {
                "books": serializers.IntegerField(),
                "authors": serializers.IntegerField(),
                "reviews": serializers.IntegerField(),
                "average_price": serializers.FloatField(allow_null=True),
                "average_rating": serializers.FloatField(allow_null=True),
                "first_published": serializers.DateField(allow_null=True),
                "last_published": serializers.DateField(allow_null=True),
                "computed_at": serializers.DateTimeField(),
                "age_seconds": serializers.FloatField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        stats = dict(catalogue_stats())
        computed = datetime.datetime.fromisoformat(stats["computed_at"])
        stats["age_seconds"] = round((timezone.now() - computed).total_seconds(), 1)
        return Response(stats)
