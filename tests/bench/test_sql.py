"""bench.sql: fingerprints and N+1 fix hints."""

import pytest

from bench.sql import fingerprint, fix_hint
from books.models import Author, Book


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            'SELECT "a"."id" FROM "a" WHERE "a"."id" IN (%s, %s, %s) LIMIT 21',
            'SELECT "a"."id" FROM "a" WHERE "a"."id" IN (...) LIMIT ?',
        ),
        (
            "SELECT x FROM t WHERE name = 'O''Brien' AND n > 3.5 AND t2.c = 7",
            "SELECT x FROM t WHERE name = ? AND n > ? AND t2.c = ?",
        ),
        ('SELECT "t1"."x" FROM "books_book_genres" T1', None),
    ],
)
def test_fingerprint_strips_literals_and_collapses_in_lists(sql, expected):
    assert fingerprint(sql) == (expected or sql)


@pytest.mark.parametrize(
    ("sql", "parent", "hint"),
    [
        (
            'SELECT ... FROM "books_author" WHERE "books_author"."id" = ? LIMIT ?',
            Book,
            "select_related('author')",
        ),
        (
            'SELECT "books_genre"."id" FROM "books_genre" INNER JOIN '
            '"books_book_genres" ON ("books_genre"."id" = '
            '"books_book_genres"."genre_id") WHERE "books_book_genres"."book_id" = ?',
            Book,
            "prefetch_related('genres')",
        ),
        (
            'SELECT AVG("books_review"."rating") AS "a" FROM "books_review" '
            'WHERE "books_review"."book_id" = ?',
            Book,
            "annotate(Avg('reviews__rating')) or a Subquery annotation",
        ),
        (
            'SELECT COUNT(*) AS "__count" FROM "books_book" '
            'WHERE "books_book"."author_id" = ?',
            Author,
            "annotate(Count('books')) or a Subquery annotation",
        ),
        (
            'SELECT "books_genre"."id" FROM "books_genre" INNER JOIN '
            '"books_book_genres" ON ("books_genre"."id" = '
            '"books_book_genres"."genre_id") WHERE "books_book_genres"."book_id" = ?',
            Author,
            "prefetch_related('books__genres')",
        ),
    ],
)
def test_fix_hint_names_the_relation(sql, parent, hint):
    assert fix_hint(sql, parent) == hint
