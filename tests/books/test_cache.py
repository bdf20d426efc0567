"""books.cache: generations, invalidation on every write path, the stampede lock."""

import logging
import threading
import time

import pytest
from django.core.cache import cache
from django.db import transaction

from books import cache as book_cache
from books.models import Genre, Publisher, Review
from tests.factories import BookFactory, ReviewFactory


def test_generation_starts_from_the_clock_not_from_one():
    before = time.time_ns() // 1000
    assert book_cache.generation() >= before
    assert book_cache.generation() == book_cache.generation()


def test_bump_moves_the_generation_and_a_lost_counter_never_goes_back():
    first = book_cache.generation()
    assert book_cache.bump_generation() == first + 1
    cache.delete(book_cache.generation_key())  # a flush, an eviction, a restart
    assert book_cache.generation() > first + 1


def test_bump_on_a_missing_counter_creates_it():
    assert book_cache.bump_generation() == book_cache.generation()


def test_generation_key_has_a_ttl(redis_cache):
    book_cache.generation()
    assert (
        0 < redis_cache.ttl(book_cache.generation_key()) <= (book_cache.GENERATION_TTL)
    )


def test_response_key_ignores_parameter_order(rf):
    a = book_cache.response_key(rf.get("/api/books/?b=2&a=1"), namespace="x")
    b = book_cache.response_key(rf.get("/api/books/?a=1&b=2"), namespace="x")
    c = book_cache.response_key(rf.get("/api/books/?a=1&b=3"), namespace="x")
    assert a == b != c


def test_response_key_varies_on_media_type_and_host(rf):
    request = rf.get("/api/books/")
    json = book_cache.response_key(request, namespace="x", variant="application/json")
    html = book_cache.response_key(request, namespace="x", variant="text/html")
    other = rf.get("/api/books/", HTTP_HOST="127.0.0.1")
    assert len({json, html, book_cache.response_key(other, namespace="x")}) == 3


def _rename_author(book):
    book.author.name = "Renamed"
    book.author.save()


WRITES = {
    "book save": lambda book: book.save(),
    "author rename": _rename_author,
    "publisher save": lambda book: book.publisher.save(),
    "genre save": lambda book: book.genres.first().save(),
    "review add": lambda book: ReviewFactory(book=book),
    "review delete": lambda book: book.reviews.first().delete(),
    "book delete": lambda book: book.delete(),
    "genre removed": lambda book: book.genres.remove(book.genres.first()),
    "genres cleared": lambda book: book.genres.clear(),
    "new book": lambda book: BookFactory(author=book.author),
}


@pytest.mark.django_db
@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_every_catalogue_write_bumps_the_generation_on_commit(
    write, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    before = book_cache.generation()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        WRITES[write](book)
    assert callbacks, "no invalidation was scheduled on commit"
    during = book_cache.generation()
    assert during > before  # visible inside the writer's own transaction
    for callback in callbacks:
        callback()
    # The on-commit bump: anything a concurrent reader cached in between is dropped.
    assert book_cache.generation() > during


@pytest.mark.django_db(transaction=True)
def test_autocommit_write_bumps_once_immediately():
    before = book_cache.generation()
    Genre.objects.create(name="Poetry", slug="poetry")
    assert book_cache.generation() == before + 1


@pytest.mark.django_db
def test_rolled_back_write_is_harmless(django_capture_on_commit_callbacks):
    before = book_cache.generation()
    with django_capture_on_commit_callbacks() as callbacks:
        try:
            with transaction.atomic():
                Publisher.objects.create(name="Gone")
                raise RuntimeError
        except RuntimeError:
            pass
    assert callbacks == []  # no on-commit bump for a rollback
    assert book_cache.generation() >= before
    assert not Publisher.objects.filter(name="Gone").exists()


@pytest.mark.django_db
def test_update_through_a_service_invalidates(
    book_factory, django_capture_on_commit_callbacks
):
    """QuerySet.update() sends no signal: services call invalidate_catalogue()."""
    book_factory(2)
    before = book_cache.generation()
    with django_capture_on_commit_callbacks(execute=True):
        Review.objects.update(rating=5)
        book_cache.invalidate_catalogue()
    assert book_cache.generation() > before


def test_clear_makes_every_versioned_entry_unreachable():
    version = book_cache.generation()
    cache.set("resp:x", "old", 60, version=version)
    book_cache.clear()
    assert cache.get("resp:x", version=book_cache.generation()) is None


def test_get_or_compute_caches_and_hits():
    calls = []
    compute = lambda: calls.append(1) or "value"  # noqa: E731
    assert book_cache.get_or_compute("k", compute, version=1, timeout=60) == (
        "value",
        False,
    )
    assert book_cache.get_or_compute("k", compute, version=1, timeout=60) == (
        "value",
        True,
    )
    assert calls == [1]


def test_get_or_compute_does_not_store_what_store_rejects():
    book_cache.get_or_compute(
        "k", lambda: "error", version=1, timeout=60, store=lambda v: False
    )
    assert cache.get("k", version=1) is None
    assert cache.get(book_cache.lock_key("k"), version=1) is None  # lock released


def test_get_or_compute_releases_the_lock_when_compute_fails():
    with pytest.raises(ZeroDivisionError):
        book_cache.get_or_compute("k", lambda: 1 / 0, version=1, timeout=60)
    assert cache.get(book_cache.lock_key("k"), version=1) is None


def test_stampede_on_a_cold_key_recomputes_once():
    """Twelve concurrent misses on one key: one computes, the rest wait for it."""
    computed = []
    start = threading.Barrier(12)
    results = []

    def compute():
        computed.append(threading.get_ident())
        time.sleep(0.3)  # a slow query, so the others arrive while it runs
        return "fresh"

    def worker():
        start.wait()
        results.append(book_cache.get_or_compute("hot", compute, version=7, timeout=60))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(computed) == 1
    assert sorted(results) == [("fresh", False)] + [("fresh", True)] * 11


def test_a_held_lock_with_no_value_falls_back_to_computing(monkeypatch):
    """A dead holder keeps its lock until the TTL; waiters give up after a bound."""
    monkeypatch.setattr(book_cache, "LOCK_WAIT", 0.2)
    cache.add(book_cache.lock_key("k"), 1, 60, version=1)
    value, hit = book_cache.get_or_compute("k", lambda: "v", version=1, timeout=60)
    assert (value, hit) == ("v", False)


def test_rate_limit_filter_lets_one_record_through_per_interval():
    log_filter = book_cache.RateLimitFilter(interval=60)
    records = [
        logging.LogRecord("books.cache", logging.ERROR, "", 0, "down", None, None)
        for _ in range(50)
    ]
    assert sum(log_filter.filter(r) for r in records) == 1


def test_redis_errors_are_logged_through_the_rate_limited_logger():
    assert any(
        isinstance(f, book_cache.RateLimitFilter)
        for f in logging.getLogger("books.cache").filters
    )


@pytest.mark.django_db
def test_warm_hot_keys_fills_the_page_cache(book_factory, client):
    book_factory(3)
    assert book_cache.warm_hot_keys(paths=("/",)) == {"/": "MISS"}
    # Warmed for the first ALLOWED_HOSTS entry: bodies carry absolute URLs.
    assert client.get("/", HTTP_HOST="localhost").headers["X-Cache"] == "HIT"


@pytest.mark.django_db
def test_warm_hot_keys_warms_https_keys_when_the_site_is_https(
    book_factory, client, settings
):
    book_factory(1)
    settings.SECURE_SSL_REDIRECT = True
    assert book_cache.warm_hot_keys(paths=("/",)) == {"/": "MISS"}
    response = client.get("/", HTTP_HOST="localhost", secure=True)
    assert response.headers["X-Cache"] == "HIT"
