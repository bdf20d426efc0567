"""Every tuned endpoint and page runs exactly its budgeted queries, at 5 rows and at 60.

The expected count of each case is the cold ``max_queries`` that config/budgets.toml
(settings.BENCH_BUDGETS) sets for the scenario bench names it by, read through
bench.budgets: the file bench gates CI on is the one these tests prove exact, so the
two cannot drift. Anonymous requests; a token adds one query (the key lookup).
"""

import pytest
from django.conf import settings

from bench import budgets
from tests.conftest import make_books
from tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

SIZES = [5, 60]

# (bench's scenario name, path); {book}, {author}... are the first book's ids.
CASES = [
    ("api.books.list", "/api/books/"),
    ("api.books.list.page100", "/api/books/?page_size=100"),
    (
        "api.books.list.filtered",
        "/api/books/?ordering=title&genre=fantasy&published_after=2000-01-01",
    ),
    ("api.books.list.author", "/api/books/?author={author}"),
    ("api.books.list.search", "/api/books/?search=e"),
    ("api.books.detail", "/api/books/{book}/"),
    ("api.books.reviews", "/api/books/{book}/reviews/"),
    ("api.authors.list", "/api/authors/"),
    ("api.authors.list.page100", "/api/authors/?page_size=100"),
    ("api.authors.detail", "/api/authors/{author}/"),
    ("api.genres.list", "/api/genres/"),
    ("api.genres.detail", "/api/genres/{genre}/"),
    ("api.publishers.list", "/api/publishers/"),
    ("api.publishers.detail", "/api/publishers/{publisher}/"),
    ("api.reviews.detail", "/api/reviews/{review}/"),
    ("page.home", "/"),
    ("page.home.genre", "/?genre=fantasy"),
    ("page.book", "/books/{book}/"),
    ("page.author", "/authors/{author}/"),
]


def size_id(size: int) -> str:
    return f"{size}books"


@pytest.fixture(params=SIZES, ids=size_id)
def books(request):
    books = make_books(request.param)
    # One book with more reviews than the detail shows.
    ReviewFactory.create_batch(8, book=books[0])
    return books


@pytest.fixture(scope="module")
def budget_rules() -> list[budgets.Budget]:
    return budgets.load(settings.BENCH_BUDGETS)


def cold_max_queries(rules: list[budgets.Budget], scenario: str) -> int:
    limit = budgets.limit_for(rules, scenario, "tuned", "cold", "max_queries")
    assert limit is not None, f"no max_queries for {scenario} in config/budgets.toml"
    return int(limit)


@pytest.mark.parametrize("books", SIZES, ids=size_id, indirect=True)
@pytest.mark.parametrize(("scenario", "path"), CASES, ids=[name for name, _ in CASES])
def test_query_count(
    scenario, path, books, budget_rules, api_client, django_assert_num_queries
):
    book = books[0]
    url = path.format(
        book=book.pk,
        author=book.author_id,
        genre=book.genres.first().pk,
        publisher=book.publisher_id,
        review=book.reviews.first().pk,
    )
    expected = cold_max_queries(budget_rules, scenario)

    with django_assert_num_queries(expected):
        response = api_client.get(url)

    assert response.status_code == 200, url
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        if "results" in body and "/reviews/" not in url:
            assert body["results"], url


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
