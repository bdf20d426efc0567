"""Every tuned endpoint runs the same number of queries at 5 rows and at 60.

The numbers are exact, not ceilings, so a new query shows up as a failing test (the
budgets in CONTRACT-facing docs are ceilings: list <= 3, detail <= 4, authors <= 2 / 4).
Anonymous requests: a token adds one query (the key lookup), nothing else.
"""

import pytest

from tests.conftest import make_books
from tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

SIZES = [5, 60]


@pytest.fixture(params=SIZES, ids=lambda n: f"{n}books")
def books(request):
    books = make_books(request.param)
    # One book with more reviews than the detail shows.
    ReviewFactory.create_batch(8, book=books[0])
    return books


def query_count_cases(books):
    book, author = books[0], books[0].author
    return [
        # path, queries: the page (books + author + publisher in one JOIN), genres
        ("/api/books/", 2),
        ("/api/books/?page_size=100", 2),
        ("/api/books/?ordering=title&genre=fantasy&published_after=2000-01-01", 2),
        ("/api/books/?search=e", 2),
        # the book with author and publisher, its genres, its newest reviews
        (f"/api/books/{book.pk}/", 3),
        # the book (for the 404), a page of its reviews
        (f"/api/books/{book.pk}/reviews/", 2),
        # authors with book_count as a subquery
        ("/api/authors/", 1),
        # the author, their newest books, those books' genres
        (f"/api/authors/{author.pk}/", 3),
        ("/api/genres/", 1),
        ("/api/publishers/", 1),
        (f"/api/reviews/{book.reviews.first().pk}/", 1),
    ]


def test_query_counts_do_not_grow_with_the_data(
    books, api_client, django_assert_num_queries
):
    for path, expected in query_count_cases(books):
        with django_assert_num_queries(expected):
            response = api_client.get(path)
        assert response.status_code == 200, path
        if "results" in response.json() and "/reviews/" not in path:
            assert response.json()["results"], path


def test_second_page_costs_the_same_as_the_first(
    books, api_client, django_assert_num_queries
):
    first = api_client.get("/api/books/", {"page_size": 2}).json()
    with django_assert_num_queries(2):
        second = api_client.get(first["next"])
    assert len(second.json()["results"]) == 2


def test_book_list_never_counts(books, api_client, django_assert_num_queries):
    with django_assert_num_queries(2) as captured:
        api_client.get("/api/books/")
    page, genres = (q["sql"] for q in captured.captured_queries)
    # The only COUNTs are the per-row rating subqueries; no SELECT COUNT(*) of the list.
    assert not page.startswith("SELECT COUNT(")
    assert page.endswith("LIMIT 21")
    assert "books_book_genres" in genres


def test_token_auth_adds_one_query(books, token_client, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert token_client.get("/api/books/").status_code == 200
