"""What ``manage.py bench`` needs to know about the books app (its HTML pages and data).

Read by the bench app, which finds this module the way the admin finds ``admin.py``
(the protocol is in ``bench/__init__.py``). Plain data and functions: books never
imports bench, so the tool can be removed without touching this app.
"""

from django.db.models import Count, Model

from books import seeding
from books.cache import warming
from books.models import Author, Book, Genre, Review

NAMESPACES = {"books": "page"}  # the pages: books:book-list is scenario page.home

NAMES = {
    "books:book-list": "page.home",
    "books:book-detail": "page.book",
    "books:author-detail": "page.author",
}

VARIANTS = {"books:book-list": {"genre": {"genre": "{genre_slug}"}}}


def _most_common(model: type[Model], column: str) -> object | None:
    """The value of ``column`` shared by most rows of ``model`` (ties: the lowest)."""
    row = (
        model.objects.filter(**{f"{column}__isnull": False})
        .order_by()
        .values(column)
        .annotate(n=Count("pk"))
        .order_by("-n", column)
        .first()
    )
    return row[column] if row else None


def most_reviewed_book() -> object | None:
    """The heaviest detail page: the book with most reviews (else the first book)."""
    return (
        _most_common(Review, "book")
        or Book.objects.values_list("pk", flat=True).first()
    )


def most_prolific_author() -> object | None:
    return _most_common(Book, "author")


def busiest_publisher() -> object | None:
    return _most_common(Book, "publisher")


def most_used_genre() -> object | None:
    return _most_common(Book.genres.through, "genre")


def most_used_genre_slug() -> str | None:
    genre = Genre.objects.filter(pk=most_used_genre())
    return genre.values_list("slug", flat=True).first()


def latest_review() -> object | None:
    return Review.objects.order_by("-pk").values_list("pk", flat=True).first()


def title_word() -> str | None:
    """A word of the most-reviewed book's title: a search with a realistic hit rate."""
    book = Book.objects.filter(pk=most_reviewed_book())
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
