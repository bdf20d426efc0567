"""The hand-written fast path gives exactly the JSON of DRF's generic serialization;
the write serializers' own fields (genres) validate in bounded time and queries."""

import pytest
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api.serializers import (
    BookDetailSerializer,
    BookListSerializer,
    BookWriteSerializer,
    detail_url,
)
from books.models import Book
from tests.conftest import make_books
from tests.factories import BookFactory, GenreFactory, ReviewFactory

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


# --- genres on writes: one query, at most ten -----------------------------------------


def genre_field_errors(genres) -> list[str] | None:
    serializer = BookWriteSerializer(data={"genres": genres}, partial=True)
    serializer.is_valid()
    return serializer.errors.get("genres")


def test_genres_resolve_in_one_query_by_id_digit_string_or_slug(
    django_assert_num_queries,
):
    genres = [GenreFactory(name=f"Genre {i}") for i in range(10)]
    refs = [genres[0].pk, str(genres[1].pk), *(g.slug for g in genres[2:])]
    with django_assert_num_queries(1):
        serializer = BookWriteSerializer(data={"genres": refs}, partial=True)
        assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["genres"] == genres


def test_duplicate_genre_references_count_once():
    fantasy = GenreFactory(name="Fantasy")
    serializer = BookWriteSerializer(
        data={"genres": [fantasy.pk, "fantasy", str(fantasy.pk)]}, partial=True
    )
    assert serializer.is_valid()
    assert serializer.validated_data["genres"] == [fantasy]


def test_a_digit_string_is_an_id_first_then_a_slug():
    by_slug = GenreFactory(name="Nineteen", slug="1984")
    assert BookWriteSerializer(data={"genres": ["1984"]}, partial=True).is_valid()
    serializer = BookWriteSerializer(data={"genres": [str(by_slug.pk)]}, partial=True)
    assert serializer.is_valid()
    assert serializer.validated_data["genres"] == [by_slug]


def test_more_than_ten_genres_is_refused_before_any_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        errors = genre_field_errors(list(range(1, 70_001)))
    assert errors == ["A book has at most 10 genres."]


def test_unknown_genres_are_named():
    GenreFactory(name="Fantasy")
    errors = genre_field_errors(["fantasy", "no-such-genre", 999_999, "12"])
    assert errors == ["No genre with id or slug no-such-genre, 999999, 12."]


@pytest.mark.parametrize(
    "item",
    [
        "a\x00b",
        "\ud800",
        "two words",
        "",
        "x" * 101,
        True,
        3.0,
        None,
        {"id": 1},
        ["fantasy"],
    ],
)
def test_an_item_that_is_neither_id_nor_slug_is_named_by_position(item):
    GenreFactory(name="Fantasy")
    errors = genre_field_errors(["fantasy", item])
    assert errors == ["Give each genre as an id or a slug; item 2 is not."]


@pytest.mark.parametrize("value", ["fantasy", {"fantasy": 1}, 3])
def test_genres_must_be_a_list(value):
    assert "Expected a list" in genre_field_errors(value)[0]


@pytest.mark.parametrize("value", [0, -1, 2**63, 2**80])
def test_ids_out_of_range_are_unknown_without_overflowing_the_query(value):
    assert genre_field_errors([value]) == [f"No genre with id or slug {value}."]
