"""What ``manage.py bench`` needs to know about the books app (its HTML pages and data).

Read by the bench app, which finds this module the way the admin finds ``admin.py``
(the protocol is in ``bench/__init__.py``). Plain data and functions: books never
imports bench, so the tool can be removed without touching this app.
"""

from collections.abc import Callable
from decimal import Decimal

from django.db.models import Count, Model
from django.utils import timezone

from books import seeding, services
from books.cache import warming
from books.models import Author, Book, Genre, Review

NAMESPACES = {"books": "page"}  # the pages: books:book-list is scenario page.home

NAMES = {
    "books:book-list": "page.home",
    "books:book-detail": "page.book",
    "books:author-detail": "page.author",
}

VARIANTS = {"books:book-list": {"genre": {"genre": "{genre_slug}"}}}


def _most_common(model: type[Model], column: str) -> int | None:
    """The id in ``column`` shared by most rows of ``model`` (ties: the lowest)."""
    row = (
        model._default_manager.filter(**{f"{column}__isnull": False})
        .order_by()
        .values(column)
        .annotate(n=Count("pk"))
        .order_by("-n", column)
        .first()
    )
    return row[column] if row else None


def most_reviewed_book() -> int | None:
    """The heaviest detail page: the book with most reviews (else the first book)."""
    return (
        _most_common(Review, "book")
        or Book.objects.values_list("pk", flat=True).first()
    )


def most_prolific_author() -> int | None:
    return _most_common(Book, "author")


def busiest_publisher() -> int | None:
    return _most_common(Book, "publisher")


def most_used_genre() -> int | None:
    return _most_common(Book.genres.through, "genre")


def most_used_genre_slug() -> str | None:
    pk = most_used_genre()
    if pk is None:  # no genres: what filter(pk=None) would find
        return None
    genre = Genre.objects.filter(pk=pk)
    return genre.values_list("slug", flat=True).first()


def latest_review() -> int | None:
    return Review.objects.order_by("-pk").values_list("pk", flat=True).first()


def title_word() -> str | None:
    """A word of the most-reviewed book's title: a search with a realistic hit rate."""
    pk = most_reviewed_book()
    if pk is None:  # no books: what filter(pk=None) would find
        return None
    book = Book.objects.filter(pk=pk)
    title = book.values_list("title", flat=True).first() or ""
    words = [w.strip(".,:;'\"") for w in title.split() if len(w) > 3]
    return words[-1] if words else None


# Route arguments (a pk of a view over Book reads "book") and {placeholders}.
PICKS = {
    "book": most_reviewed_book,
    "author": most_prolific_author,
    "publisher": busiest_publisher,
    "genre": most_used_genre,
    "genre_slug": most_used_genre_slug,
    "review": latest_review,
    "search": title_word,
}

DATASET = {
    "books": Book.objects.count,
    "authors": Author.objects.count,
    "reviews": Review.objects.count,
}

# A cold request: every entry gone, the catalogue version still published (a serving
# process always has one); on Redis only this project's keys, never FLUSHDB.
CLEAR_CACHE = warming.clear


def reseed(size: int) -> None:
    """DELETES every book, author and review, then seeds that many books (seed 42)."""
    seeding.reset()
    seeding.seed(books=size, authors=max(1, size // 8), seed=42)


RESEED = reseed


# --- Write operations: three ways to reprice 1,000 books (bench rolls each back) ------


def _repricing(rows: int = 1000) -> tuple[list[Book], dict[int, Decimal]]:
    """The first ``rows`` books by id, and a new price for each (one cent more)."""
    books = list(Book.objects.order_by("pk").only("pk", "price", "updated")[:rows])
    return books, {book.pk: book.price + Decimal("0.01") for book in books}


def reprice_by_save() -> Callable[[], int]:
    """One ``save(update_fields=...)`` per book: an UPDATE round trip per row."""
    books, prices = _repricing()

    def run() -> int:
        for book in books:
            book.price = prices[book.pk]
            book.save(update_fields=["price", "updated"])
        return len(books)

    return run


def reprice_by_bulk_update() -> Callable[[], int]:
    """``bulk_update()``: one UPDATE whose SET is a CASE WHEN id = ... per row."""
    books, prices = _repricing()
    now = timezone.now()
    for book in books:
        book.price, book.updated = prices[book.pk], now
    return lambda: Book.objects.bulk_update(books, ["price", "updated"])


def reprice_in_one_statement() -> Callable[[], int]:
    """``services.book_reprice()``: one UPDATE joined to a VALUES list."""
    _, prices = _repricing()
    return lambda: services.book_reprice(prices=prices)


OPERATIONS = {
    "reprice.save": reprice_by_save,
    "reprice.bulk_update": reprice_by_bulk_update,
    "reprice.one_statement": reprice_in_one_statement,
}
