"""The naive twins answer exactly like the tuned endpoints, only slower.

Same data, same parameters, same JSON. The one difference in a body is the path in
``next``/``previous``: each twin links to its own next page (the cursor inside is
identical), so links are compared with the naive prefix taken out.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import make_books
from tests.factories import AuthorFactory, BookFactory, GenreFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def same_links(body):
    """The body with naive paths mapped to tuned ones (recursively, links only)."""
    if isinstance(body, dict):
        return {k: same_links(v) for k, v in body.items()}
    if isinstance(body, list):
        return [same_links(v) for v in body]
    if isinstance(body, str):
        return body.replace("/api/naive/", "/api/")
    return body


@pytest.fixture
def catalogue():
    books = make_books(12)
    # Awkward cases: no publisher, no reviews, a tie on the date, a mean of 3.333...
    tolkien = AuthorFactory(name="J. R. R. Tolkien")
    lonely = BookFactory(title="The Hobbit", author=tolkien, publisher=None, genres=[])
    tied = BookFactory(
        title="the hobbit, again",
        author=tolkien,
        published=lonely.published,
        genres=[GenreFactory(name="Fantasy")],
    )
    for rating in (5, 3, 2):
        ReviewFactory(book=tied, rating=rating)
    return books


PARAMS = [
    {},
    {"page_size": 5},
    {"page_size": 100},
    {"ordering": "title"},
    {"ordering": "-title", "page_size": 3},
    {"ordering": "published", "published_after": "2000-01-05"},
    {"search": "HOBBIT"},
    {"search": "tolkien", "ordering": "title"},
    {"genre": "fantasy", "page_size": 4},
    {"published_before": "2999-12-31", "ordering": "-published"},
    {"author": "first", "page_size": 2},
]


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_book_list_json_is_identical(catalogue, api_client, params):
    if params.get("author") == "first":
        params = params | {"author": catalogue[0].author_id}
    tuned = api_client.get("/api/books/", params)
    naive = api_client.get("/api/naive/books/", params)
    assert tuned.status_code == naive.status_code == 200
    assert tuned.json()["results"], "each case should return rows"
    assert same_links(naive.json()) == tuned.json()


def test_following_next_links_stays_identical(catalogue, api_client):
    tuned_url, naive_url = "/api/books/?page_size=4", "/api/naive/books/?page_size=4"
    pages = 0
    while tuned_url:
        tuned, naive = (
            api_client.get(tuned_url).json(),
            api_client.get(naive_url).json(),
        )
        assert same_links(naive) == tuned
        tuned_url, naive_url = tuned["next"], naive["next"]
        pages += 1
    assert naive_url is None
    assert pages == 4


@pytest.mark.parametrize("params", [{"author": "x"}, {"ordering": "pages"}])
def test_bad_parameters_fail_identically(catalogue, api_client, params):
    tuned = api_client.get("/api/books/", params)
    naive = api_client.get("/api/naive/books/", params)
    assert tuned.status_code == naive.status_code == 400
    assert tuned.json() == naive.json()


def test_book_detail_json_is_identical(catalogue, api_client):
    ReviewFactory.create_batch(
        7, book=catalogue[0], created=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    )
    for book in [catalogue[0], *catalogue[1:3]]:
        tuned = api_client.get(f"/api/books/{book.pk}/").json()
        naive = api_client.get(f"/api/naive/books/{book.pk}/").json()
        assert naive == tuned
    assert api_client.get("/api/naive/books/999999/").status_code == 404


@pytest.mark.parametrize("params", [{}, {"page_size": 2}], ids=str)
def test_author_list_json_is_identical(catalogue, api_client, params):
    tuned = api_client.get("/api/authors/", params).json()
    naive = api_client.get("/api/naive/authors/", params).json()
    assert same_links(naive) == tuned


def test_author_detail_json_is_identical(catalogue, api_client):
    for author in {book.author for book in catalogue}:
        tuned = api_client.get(f"/api/authors/{author.pk}/").json()
        naive = api_client.get(f"/api/naive/authors/{author.pk}/").json()
        assert naive == tuned
        assert tuned["books"]


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_naive_list_queries_grow_with_page_size(catalogue, api_client):
    """4 queries per book (author, publisher, genres, rating) where tuned runs 2."""
    small = queries_for(api_client, "/api/naive/books/?page_size=2")
    large = queries_for(api_client, "/api/naive/books/?page_size=10")
    assert large - small == 8 * 4
    assert queries_for(api_client, "/api/books/?page_size=10") == 2


def test_naive_author_list_queries_grow_with_page_size(catalogue, api_client):
    small = queries_for(api_client, "/api/naive/authors/?page_size=1")
    large = queries_for(api_client, "/api/naive/authors/?page_size=3")
    assert large - small == 2


def test_naive_twins_use_the_stdlib_renderer_and_no_cache(catalogue, api_client):
    response = api_client.get("/api/naive/books/")
    assert response.accepted_renderer.__class__.__name__ == "JSONRenderer"
    # Never served from the cache: every read is a MISS, and there is no ETag.
    again = api_client.get("/api/naive/books/")
    assert (response["X-Cache"], again["X-Cache"]) == ("MISS", "MISS")
    assert "ETag" not in again
