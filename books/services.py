"""Writes. Every create, update and delete of the domain goes through here.

Each service is keyword-only and atomic, validates with ``full_clean()`` (field
validators, the ISBN check digit, CHECK constraints, uniqueness) and raises Django's
``ValidationError`` or ``Conflict``; the API maps them to 400 and 409. Cache freshness
is not done here: the database bumps the catalogue version in the same transaction,
and ``books.cache.freshness`` publishes it after the commit, whatever wrote.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, NotSupportedError, connection, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from books.keyset import MAX_INT
from books.models import Author, Book, Genre, Publisher, Review

if TYPE_CHECKING:
    from django.contrib.auth.models import User


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
def review_add(*, book: Book, user: User, rating: int, body: str = "") -> Review:
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


# --- Bulk repricing: one statement ----------------------------------------------------

REPRICE_BATCH = 5000  # books per statement: 2 parameters each, far below either limit

# The new prices travel as a VALUES list joined to the table: one UPDATE, one round
# trip, one plan, whatever the count. PostgreSQL types the VALUES columns from the
# casts; SQLite (>= 3.33 has UPDATE ... FROM) names them column1, column2.
_REPRICE_SQL = {
    "postgresql": (
        "UPDATE {table} SET {price} = v.price, {updated} = %s "
        "FROM (VALUES {rows}) AS v(id, price) WHERE {table}.{id} = v.id",
        "(%s::bigint, %s::numeric)",
    ),
    "sqlite": (
        "UPDATE {table} SET {price} = v.price, {updated} = %s "
        "FROM (SELECT column1 AS id, column2 AS price FROM (VALUES {rows})) AS v "
        "WHERE {table}.{id} = v.id",
        "(%s, %s)",
    ),
}


def _clean_prices(prices: Mapping[Any, object]) -> list[tuple[int, Decimal]]:
    """``(id, price)`` pairs checked as ``Book.price`` and its CHECK constraint check
    them; every problem is collected into one ``ValidationError``. Typed loosely: it
    checks whatever a caller passed, not what ``book_reprice`` promises."""
    field = Book._meta.get_field("price")
    cleaned, errors = [], []
    for book_id, price in prices.items():
        if isinstance(book_id, bool) or not isinstance(book_id, int):
            errors.append(f"{book_id!r}: not a book id.")
            continue
        if not 1 <= book_id <= MAX_INT:
            errors.append(f"{book_id!r}: not a book id.")
            continue
        if isinstance(price, float | bool) or not isinstance(price, Decimal | int):
            errors.append(f"{book_id}: give the price as a Decimal, not {price!r}.")
            continue
        try:
            value = field.clean(price, None)
        except ValidationError as exc:
            errors.extend(f"{book_id}: {message}" for message in exc.messages)
            continue
        if value <= 0:
            errors.append(f"{book_id}: a price is greater than 0.")
            continue
        cleaned.append((book_id, value))
    if errors:
        raise ValidationError({"prices": errors})
    return cleaned


def book_reprice(*, prices: Mapping[int, Decimal]) -> int:
    """Set many books' prices (and ``updated``) atomically, one UPDATE per 5,000 books.

    ``prices`` maps book id to price (> 0, at most 2 decimal places); any bad entry
    is a ``ValidationError`` and nothing is written. Ids that match no book are
    skipped: the return value is the number of books changed. The catalogue
    version trigger runs inside the same statement, so caches see the new prices.
    """
    pairs = _clean_prices(prices)
    if not pairs:
        return 0
    if connection.vendor not in _REPRICE_SQL:
        raise NotSupportedError(f"book_reprice has no SQL for {connection.vendor}.")
    template, row = _REPRICE_SQL[connection.vendor]
    meta, quote = Book._meta, connection.ops.quote_name
    price_field, updated_field = meta.get_field("price"), meta.get_field("updated")
    now = updated_field.get_db_prep_save(timezone.now(), connection)
    changed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(pairs), REPRICE_BATCH):
            batch = pairs[start : start + REPRICE_BATCH]
            sql = template.format(
                table=quote(meta.db_table),
                price=quote(price_field.column),
                updated=quote(updated_field.column),
                id=quote(meta.pk.column),
                rows=", ".join([row] * len(batch)),
            )
            params: list[Any] = [now]
            for book_id, price in batch:
                params += [book_id, price_field.get_db_prep_save(price, connection)]
            cursor.execute(sql, params)
            changed += cursor.rowcount
    return changed
