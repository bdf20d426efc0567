"""books/bench.py: the data picks bench uses for route arguments and variants."""

from datetime import date

import pytest

from books import bench as declared
from tests.factories import AuthorFactory, BookFactory, GenreFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_the_most_reviewed_book_and_a_word_of_its_title(book_factory):
    book_factory(2, reviews_per_book=1)
    book = BookFactory(title="The Quiet Lighthouse")
    ReviewFactory.create_batch(3, book=book)

    assert declared.most_reviewed_book() == book.pk
    assert declared.title_word() == "Lighthouse"


def test_the_most_used_genre_by_id_and_by_slug():
    crime, poetry = GenreFactory(name="Crime"), GenreFactory(name="Poetry")
    BookFactory.create_batch(2, genres=[poetry])
    BookFactory(genres=[crime])

    assert declared.most_used_genre() == poetry.pk
    assert declared.most_used_genre_slug() == poetry.slug


def test_the_author_with_most_books(book_factory):
    book_factory(2)
    prolific = AuthorFactory()
    BookFactory.create_batch(3, author=prolific, published=date(2001, 1, 1))

    assert declared.PICKS["author"]() == prolific.pk


def test_picks_are_none_without_data():
    assert {name: pick() for name, pick in declared.PICKS.items()} == dict.fromkeys(
        declared.PICKS
    )


def test_reseed_says_what_it_deletes_and_seeds_the_size():
    declared.RESEED(8)

    assert declared.RESEED.__doc__.startswith("DELETES every book")
    assert {name: count() for name, count in declared.DATASET.items()}["books"] == 8
