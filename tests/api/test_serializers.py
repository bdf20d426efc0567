"""The hand-written fast path gives exactly the JSON of DRF's generic serialization."""

import pytest
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.serializers import BookDetailSerializer, BookListSerializer, detail_url
from books.models import Book
from tests.conftest import make_books
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def context() -> dict:
    request = Request(APIRequestFactory().get("/api/books/", HTTP_HOST="testserver"))
    return {"request": request}


def generic(serializer_class, instance, context):
    """What DRF's field-by-field ``to_representation()`` makes of the same object."""
    serializer = serializer_class(instance, context=context)
    return serializers.ModelSerializer.to_representation(serializer, instance)


def test_list_fast_path_equals_drf_generic(context):
    make_books(3)
    BookFactory(publisher=None)  # no publisher, no genres, no reviews
    for book in Book.objects.for_list():
        fast = BookListSerializer(book, context=context).data
        assert fast == generic(BookListSerializer, book, context)
        assert list(fast) == BookListSerializer.Meta.fields


def test_detail_fast_path_equals_drf_generic(context):
    book = make_books(1)[0]
    ReviewFactory.create_batch(6, book=book)
    book = Book.objects.for_detail().get(pk=book.pk)
    fast = BookDetailSerializer(book, context=context).data
    assert fast == generic(BookDetailSerializer, book, context)
    assert list(fast) == BookDetailSerializer.Meta.fields


def test_detail_url_matches_reverse(context):
    assert detail_url(context, "api:book-detail", 7) == "http://testserver/api/books/7/"
    assert detail_url(context, "api:author-detail", 12345) == (
        "http://testserver/api/authors/12345/"
    )
