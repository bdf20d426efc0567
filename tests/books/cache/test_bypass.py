"""books.cache.bypass: ``?nocache=1`` under DEBUG runs the page's queries, stores
nothing; without DEBUG it means nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def _get(client, path: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return response, len(queries)


@pytest.fixture
def warm(client, book_factory):
    """A home page and a book list that are in the cache."""
    book_factory(3)
    for path in ("/", "/api/books/"):
        client.get(path)
        response, queries = _get(client, path)
        assert (response["X-Cache"], queries) == ("HIT", 0)


def test_under_debug_nocache_runs_every_query_of_the_page(client, debug, warm):

    first, queries = _get(client, "/?nocache=1")
    again, queries_again = _get(client, "/?nocache=1")

    assert first["X-Cache"] == again["X-Cache"] == "BYPASS"
    assert "ETag" not in first
    # The page's books, their genres, and the genre sidebar's fragment: none cached.
    assert queries == queries_again >= 3
    assert b"Genres" in first.content
    assert _get(client, "/")[0]["X-Cache"] == "HIT"  # the cached page is untouched


def test_under_debug_nocache_bypasses_the_api_cache_too(client, debug, warm):

    response, queries = _get(client, "/api/books/?nocache=1")

    assert response["X-Cache"] == "BYPASS" and queries == 2


def test_without_debug_nocache_is_ignored(client, warm):
    response, queries = _get(client, "/?nocache=1")

    assert (response["X-Cache"], queries) == ("HIT", 0)
