"""Writes. Every create, update and delete of the domain goes through here.

Each service is keyword-only and atomic, validates with ``full_clean()`` (field
validators, the ISBN check digit, CHECK constraints, uniqueness) and raises Django's
``ValidationError`` or ``Conflict``; the API maps them to 400 and 409. Cache freshness
is not done here: the database bumps the catalogue version in the same transaction,
and ``books.cache.freshness`` publishes it after the commit, whatever wrote.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from books.models import Author, Book, Genre, Publisher, Review


class Conflict(Exception):
    """The write is valid but the current data forbids it (HTTP 409)."""


DUPLICATE_ISBN = "A book with this ISBN already exists."


def _save_book(book: Book) -> None:
    """Save, turning a lost race on the unique ISBN into a validation error.

    ``full_clean()`` already rejects a duplicate, but two concurrent requests can both
    pass that check; the unique index then decides, and the loser gets a 400, not a 500.
    ``isbn`` is the only unique column besides the primary key.
    """
    try:
        with transaction.atomic():
            book.save()
    except IntegrityError as exc:
        raise ValidationError({"isbn": [DUPLICATE_ISBN]}) from exc


@transaction.atomic
def book_create(
    *,
    title: str,
    isbn: str,
    author: Author,
    published: datetime.date,
    pages: int,
    price: Decimal,
    publisher: Publisher | None = None,
    genres: Iterable[Genre] = (),
    description: str = "",
) -> Book:
    """Create a book with its genres."""
    book = Book(
        title=title,
        isbn=isbn,
        author=author,
        publisher=publisher,
        published=published,
        pages=pages,
        price=price,
        description=description,
    )
    book.full_clean()
    _save_book(book)
    book.genres.set(genres)
    return book


@transaction.atomic
def book_update(*, book: Book, data: dict[str, Any]) -> Book:
    """Change the given fields (``genres`` replaces the whole set) and save."""
    data = dict(data)
    genres = data.pop("genres", None)
    for name, value in data.items():
        setattr(book, name, value)
    book.full_clean()
    _save_book(book)
    if genres is not None:
        book.genres.set(genres)
    return book


@transaction.atomic
def book_delete(*, book: Book) -> None:
    """Delete a book; its reviews go with it (CASCADE)."""
    book.delete()


def reviewer_name(user: AbstractBaseUser) -> str:
    """The name a user's reviews show: their full name, else their username."""
    get_full_name = getattr(user, "get_full_name", None)
    name = (get_full_name() if get_full_name else "") or user.get_username()
    return name[: Review._meta.get_field("reviewer").max_length]


@transaction.atomic
def review_add(
    *, book: Book, user: AbstractBaseUser, rating: int, body: str = ""
) -> Review:
    """Add ``user``'s review; the 1..5 rating is checked here and by a CHECK
    constraint. ``reviewer`` is the user's name, never chosen by the client."""
    review = Review(
        book=book, user=user, reviewer=reviewer_name(user), rating=rating, body=body
    )
    review.full_clean()
    review.save()
    return review


@transaction.atomic
def review_update(
    *, review: Review, rating: int | None = None, body: str | None = None
) -> Review:
    """Change a review's rating and/or body; returns the updated review.

    The row is re-read under a lock: a review deleted meanwhile raises
    ``Review.DoesNotExist`` instead of being resurrected by ``save()``'s INSERT
    fallback, and two concurrent edits apply one after the other.
    """
    review = Review.objects.select_for_update().get(pk=review.pk)
    if rating is not None:
        review.rating = rating
    if body is not None:
        review.body = body
    review.full_clean()
    review.save(update_fields=["rating", "body"])
    return review


@transaction.atomic
def review_delete(*, review: Review) -> None:
    review.delete()


@transaction.atomic
def author_create(
    *,
    name: str,
    bio: str = "",
    born: datetime.date | None = None,
    country: str = "",
) -> Author:
    author = Author(name=name, bio=bio, born=born, country=country)
    author.full_clean()
    author.save()
    return author


@transaction.atomic
def author_update(*, author: Author, data: dict[str, Any]) -> Author:
    for name, value in data.items():
        setattr(author, name, value)
    author.full_clean()
    author.save()
    return author


@transaction.atomic
def author_delete(*, author: Author) -> None:
    """Delete an author who has no books; ``Book.author`` is PROTECT."""
    try:
        author.delete()
    except ProtectedError as exc:
        count = len(exc.protected_objects)
        raise Conflict(
            f"This author still has {count} book{'s' if count != 1 else ''}; "
            "delete them or give them another author first."
        ) from exc
