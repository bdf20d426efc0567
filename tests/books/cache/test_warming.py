"""books.cache.warming: warming the hot pages, and emptying the cache for bench."""

import pytest
from django.core.cache import cache

from books.cache import freshness, warming
from books.cache.keys import generation_key

pytestmark = pytest.mark.django_db


def test_warm_hot_keys_fills_the_page_cache(book_factory, client):
    book_factory(3)
    assert warming.warm_hot_keys(paths=("/",)) == {"/": "MISS"}
    # Warmed for the first ALLOWED_HOSTS entry: bodies carry absolute URLs.
    assert client.get("/", HTTP_HOST="localhost").headers["X-Cache"] == "HIT"


def test_warm_hot_keys_warms_https_keys_when_the_site_is_https(
    book_factory, client, settings
):
    book_factory(1)
    settings.SECURE_SSL_REDIRECT = True
    assert warming.warm_hot_keys(paths=("/",)) == {"/": "MISS"}
    response = client.get("/", HTTP_HOST="localhost", secure=True)
    assert response.headers["X-Cache"] == "HIT"


def test_warming_reports_a_failed_path_by_its_status(book_factory):
    assert warming.warm_hot_keys(paths=("/books/999999/",)) == {"/books/999999/": "404"}


def test_clear_empties_entries_and_keeps_the_generation_published(client, book_factory):
    book_factory(2)
    client.get("/")
    assert client.get("/").headers["X-Cache"] == "HIT"
    warming.clear()
    assert cache.get(generation_key()) == freshness.read_version()
    assert client.get("/").headers["X-Cache"] == "MISS"
