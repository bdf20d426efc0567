"""books.cache.local: the in-process L1 in front of Redis."""

import time

import pytest
from django.core.cache import cache

from books.cache import freshness
from books.cache.keys import generation_key
from books.cache.local import LocalCache, local


def entry(gen: int, size: int) -> dict:
    return {"gen": gen, "body": b"x" * size, "encodings": {}}


def test_entries_of_another_generation_are_never_served():
    l1 = LocalCache()
    l1.put("k", entry(5, 10))
    assert l1.get("k", 5)["gen"] == 5
    assert l1.get("k", 6) is None


def test_memory_is_bounded_least_recently_used_first(settings):
    settings.CACHE_LOCAL_MAX_BYTES = 1000
    l1 = LocalCache()
    for name in "abcdefghij":
        l1.put(name, entry(1, 100))
    l1.get("a", 1)  # a is now the most recently used
    l1.put("k", entry(1, 100))
    assert l1.bytes <= 1000
    assert l1.get("a", 1) is not None and l1.get("b", 1) is None
    assert l1.stats()["entries"] == 10


def test_one_huge_body_is_not_kept(settings):
    settings.CACHE_LOCAL_MAX_BYTES = 1000
    l1 = LocalCache()
    l1.put("small", entry(1, 10))
    l1.put("huge", entry(1, 900))
    assert l1.get("huge", 1) is None and l1.get("small", 1) is not None


@pytest.fixture
def l1_on(redis_cache, settings):
    settings.CACHE_LOCAL_SECONDS = 0.3
    local.clear()
    yield
    local.clear()


@pytest.mark.django_db
def test_a_hit_is_served_from_process_memory_with_no_round_trip(
    l1_on, client, book_factory, monkeypatch, django_assert_num_queries
):
    book_factory(3)
    assert client.get("/api/books/")["X-Cache"] == "MISS"
    assert client.get("/api/books/")["X-Cache-Layer"] == "redis"
    calls = []
    monkeypatch.setattr(cache, "get_many", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(cache, "get", lambda *a, **k: calls.append(a))
    with django_assert_num_queries(0):
        response = client.get("/api/books/")
    assert (response["X-Cache"], response["X-Cache-Layer"]) == ("HIT", "local")
    assert calls == []


@pytest.mark.django_db
def test_a_write_in_this_process_is_seen_at_once(
    l1_on, client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(2)[0]
    url = f"/api/books/{book.pk}/"
    client.get(url)
    client.get(url)
    assert client.get(url)["X-Cache-Layer"] == "local"
    with django_capture_on_commit_callbacks(execute=True):
        book.title = "Changed Here"
        book.save()
    response = client.get(url)
    assert response.json()["title"] == "Changed Here" and response["X-Cache"] == "MISS"


@pytest.mark.django_db
def test_another_process_publish_reaches_this_one_within_its_seconds(
    l1_on, client, book_factory
):
    book_factory(2)
    client.get("/api/books/")
    client.get("/api/books/")
    assert client.get("/api/books/")["X-Cache-Layer"] == "local"
    # Another process published a newer version: Redis has it, this process not yet.
    raw = cache.client.get_client(write=True)
    raw.set(cache.make_key(generation_key()), freshness.generation() + 1)
    time.sleep(0.35)  # CACHE_LOCAL_SECONDS
    assert client.get("/api/books/")["X-Cache"] == "MISS"
