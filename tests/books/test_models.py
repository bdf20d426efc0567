"""The database itself rejects bad data, whatever path wrote it."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from books.models import Book, Review, isbn13_check_digit, validate_isbn13
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("rating", [0, 6])
def test_review_rating_outside_1_to_5_is_rejected_by_the_database(rating):
    review = ReviewFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(rating=rating)
    review.refresh_from_db()
    assert review.rating == 4


@pytest.mark.parametrize("rating", [1, 5])
def test_review_rating_bounds_are_accepted(rating):
    assert ReviewFactory(rating=rating).rating == rating


def test_duplicate_isbn_is_rejected_by_the_database():
    book = BookFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        BookFactory(isbn=book.isbn)
    assert Book.objects.filter(isbn=book.isbn).count() == 1


@pytest.mark.parametrize(("field", "value"), [("pages", 0), ("price", Decimal("0.00"))])
def test_book_pages_and_price_must_be_positive(field, value):
    book = BookFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Book.objects.filter(pk=book.pk).update(**{field: value})


def test_isbn_check_digit_matches_a_known_isbn():
    # "The Pragmatic Programmer", 20th anniversary edition.
    assert isbn13_check_digit("978013595705") == "9"
    validate_isbn13("9780135957059")


@pytest.mark.parametrize(
    "bad", ["9780135957058", "978013595705", "97801359570x9", "٩" * 13]
)
def test_invalid_isbns_fail_validation(bad):
    with pytest.raises(ValidationError):
        validate_isbn13(bad)


def test_updated_changes_on_every_save():
    book = BookFactory()
    first = book.updated
    book.title = "Changed"
    book.save()
    book.refresh_from_db()
    assert book.updated > first
