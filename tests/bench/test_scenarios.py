"""bench.scenarios: discovery from the URLconf and the declared picks."""

from datetime import date

import pytest

from bench.client import make_client
from bench.registry import declarations
from bench.scenarios import Dataset, discover

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


@pytest.mark.urls(TEST_URLS)
def test_discovery_gives_detail_routes_the_most_reviewed_book(book_factory):
    books = book_factory(3, reviews_per_book=1)
    from tests.factories import ReviewFactory

    ReviewFactory.create_batch(4, book=books[1])

    declared = declarations()
    scenarios, _ = discover(
        make_client(), declared, Dataset(declared.picks), urlconf=TEST_URLS
    )

    by_key = {(s.name, s.variant): s for s in scenarios}
    assert by_key[("api.books.detail", "tuned")].path == f"/api/books/{books[1].pk}/"
    assert by_key[("page.book", "tuned")].path == f"/books/{books[1].pk}/"
    # naive-book-list is the naive twin of book-list, with the same variants.
    assert by_key[("api.books.list", "naive")].route == "api:naive-book-list"
    assert by_key[("api.books.list.page100", "naive")].path.endswith("page_size=100")


def test_dataset_picks_the_author_with_most_books(book_factory):
    from tests.factories import AuthorFactory, BookFactory

    book_factory(2)
    prolific = AuthorFactory()
    BookFactory.create_batch(5, author=prolific, published=date(2001, 1, 1))

    assert Dataset(declarations().picks).value("author") == prolific.pk
