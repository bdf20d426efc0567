"""QuerySet methods run a constant number of queries, whatever the data size."""

import pytest
from django.db import connection

from books.models import AUTHOR_RECENT_BOOKS, Author, Book
from tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db


def consume_books(queryset) -> list[tuple]:
    return [
        (
            b.title,
            b.author.name,
            b.publisher and b.publisher.name,
            [g.slug for g in b.genres.all()],
            b.rating_average,
            b.rating_count,
        )
        for b in queryset
    ]


@pytest.mark.parametrize("size", [1, 25])
def test_book_for_list_runs_two_queries_at_any_size(
    size, book_factory, django_assert_num_queries
):
    book_factory(size)
    with django_assert_num_queries(2):
        rows = consume_books(Book.objects.for_list())
    assert len(rows) == size


def test_book_for_list_defers_description(book_factory):
    book_factory(1)
    book = Book.objects.for_list().get()
    assert "description" in book.get_deferred_fields()


@pytest.mark.parametrize("size", [1, 25])
def test_book_for_detail_runs_three_queries(
    size, book_factory, django_assert_num_queries
):
    book = book_factory(size)[0]
    ReviewFactory.create_batch(8, book=book)
    with django_assert_num_queries(3):
        found = Book.objects.for_detail().get(pk=book.pk)
        assert len(found.recent_reviews) == 5
        assert [g.slug for g in found.genres.all()] == ["crime", "fantasy"]
        assert found.author.name and found.description


def test_recent_reviews_are_the_newest_five(book_factory):
    book = book_factory(1, reviews_per_book=0)[0]
    reviews = ReviewFactory.create_batch(7, book=book)
    found = Book.objects.for_detail().get(pk=book.pk)
    newest = sorted(reviews, key=lambda r: (r.created, r.id), reverse=True)[:5]
    assert [r.pk for r in found.recent_reviews] == [r.pk for r in newest]


def test_with_rating_matches_python_arithmetic(book_factory):
    book = book_factory(1, reviews_per_book=0)[0]
    for rating in (5, 4, 4):
        ReviewFactory(book=book, rating=rating)
    found = Book.objects.with_rating().get(pk=book.pk)
    assert found.rating_count == 3
    assert round(float(found.rating_average), 2) == round(13 / 3, 2)


def test_with_rating_is_null_and_zero_without_reviews(book_factory):
    book = book_factory(1, reviews_per_book=0)[0]
    found = Book.objects.with_rating().get(pk=book.pk)
    assert (found.rating_average, found.rating_count) == (None, 0)


@pytest.mark.parametrize("size", [1, 25])
def test_author_for_list_runs_one_query(size, book_factory, django_assert_num_queries):
    book_factory(size)
    with django_assert_num_queries(1):
        counts = sorted(a.book_count for a in Author.objects.for_list())
    assert sum(counts) == size


@pytest.mark.parametrize("size", [1, 25])
def test_author_detail_and_newest_books_run_three_queries(
    size, book_factory, django_assert_num_queries
):
    author = book_factory(size)[0].author
    with django_assert_num_queries(3):
        found = Author.objects.for_detail().get(pk=author.pk)
        books = Book.objects.for_author(found)[:AUTHOR_RECENT_BOOKS]
        titles = [(b.title, [g.slug for g in b.genres.all()]) for b in books]
    assert found.book_count == (size + 1) // 2
    assert len(titles) == min(found.book_count, AUTHOR_RECENT_BOOKS)


def test_for_author_is_newest_first_and_only_that_author(book_factory):
    books = book_factory(6)
    author = books[0].author
    found = list(Book.objects.for_author(author))
    assert {b.author_id for b in found} == {author.pk}
    assert found == sorted(found, key=lambda b: (b.published, b.pk), reverse=True)


def test_book_list_uses_the_keyset_index_on_postgres(postgres, book_factory):
    book_factory(3)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        sql, params = Book.objects.order_by("-published", "-id")[
            :20
        ].query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "book_published_id_idx" in plan


def test_connection_is_postgres_in_the_service_pass(postgres):
    assert connection.vendor == "postgresql"
    assert connection.settings_dict["OPTIONS"]["pool"]
