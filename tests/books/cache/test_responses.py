"""books.cache.responses: one round trip a hit, one recompute a miss, honest 304s."""

import threading
import time

import pytest
from django.core.cache import cache
from django.http import HttpResponse

from books.cache import breaker, freshness, locks, responses
from books.cache.keys import lock_key, response_key

pytestmark = pytest.mark.django_db


def serve(rf, render, path="/x", **headers):
    request = rf.get(path, headers=headers)
    return responses.cached_response(request, render, namespace="t")


def test_a_miss_then_a_hit_from_one_cache_round_trip(rf, monkeypatch):
    calls = []
    serve(rf, lambda: HttpResponse("body"))
    depth: list[int] = []
    monkeypatch.setattr(cache, "get_many", _counting(cache.get_many, calls, depth))
    monkeypatch.setattr(cache, "get", _counting(cache.get, calls, depth))
    hit = serve(rf, lambda: HttpResponse("never"))
    assert (hit.content, hit["X-Cache"]) == (b"body", "HIT")
    assert len(calls) == 1  # the generation and the entry in one MGET


def _counting(method, calls, depth):
    """Count outermost calls only (local memory's get_many calls get)."""

    def wrapper(*args, **kwargs):
        if not depth:
            calls.append(args)
        depth.append(1)
        try:
            return method(*args, **kwargs)
        finally:
            depth.pop()

    return wrapper


def test_an_entry_of_an_older_generation_is_a_miss(rf, book_factory):
    serve(rf, lambda: HttpResponse("old"))
    freshness.publish(freshness.generation() + 1)
    fresh = serve(rf, lambda: HttpResponse("new"))
    assert (fresh.content, fresh["X-Cache"]) == (b"new", "MISS")


def test_only_200s_are_stored(rf):
    serve(rf, lambda: HttpResponse("nope", status=404))
    again = serve(rf, lambda: HttpResponse("nope", status=404))
    assert again["X-Cache"] == "MISS" and "ETag" not in again


def test_if_none_match_star_is_304_only_for_an_existing_representation(rf):
    missing = serve(rf, lambda: HttpResponse("no", status=404), HTTP_IF_NONE_MATCH="*")
    assert missing.status_code == 404
    found = serve(rf, lambda: HttpResponse("yes"), **{"If-None-Match": "*"})
    assert found.status_code == 304


def test_a_matching_etag_from_before_a_write_is_not_304(rf):
    etag = serve(rf, lambda: HttpResponse("v1"))["ETag"]
    assert (
        serve(rf, lambda: HttpResponse("v1"), **{"If-None-Match": etag}).status_code
        == 304
    )
    freshness.publish(freshness.generation() + 1)
    after = serve(rf, lambda: HttpResponse("v2"), **{"If-None-Match": etag})
    assert (after.status_code, after.content) == (200, b"v2")


def test_the_lock_is_released_when_rendering_fails(rf):
    def broken():
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        serve(rf, broken)
    key = response_key(rf.get("/x"), namespace="t")
    assert cache.get(lock_key(key, freshness.generation())) is None


def test_a_stampede_on_a_cold_key_renders_once(rf):
    """Twelve concurrent misses on one key: one renders, the rest wait for it."""
    rendered = []
    start = threading.Barrier(12)
    results = []

    def render():
        rendered.append(threading.get_ident())
        time.sleep(0.3)  # a slow query, so the others arrive while it runs
        return HttpResponse("fresh")

    def worker():
        start.wait()
        response = serve(rf, render)
        results.append((response.content, response["X-Cache"]))

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(rendered) == 1
    assert all(content == b"fresh" for content, _ in results)


def test_a_held_lock_with_no_value_falls_back_to_rendering(rf, monkeypatch):
    """A dead holder keeps its lock until the TTL; waiters give up after a bound."""
    monkeypatch.setattr(locks, "LOCK_WAIT", 0.2)
    key = response_key(rf.get("/x"), namespace="t")
    cache.add(lock_key(key, freshness.generation()), 1, 60)
    assert serve(rf, lambda: HttpResponse("v")).content == b"v"


BIG = "x, y and z " * 100  # over MIN_COMPRESS: stored with its encodings


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_a_miss_is_served_in_the_stored_encoding_as_the_hit_is(rf, coding):
    """A miss compresses once, when it stores: the bytes it sends are the entry's,
    the same the next hit sends (GZipMiddleware has nothing left to do)."""
    miss = serve(rf, lambda: HttpResponse(BIG), **{"Accept-Encoding": coding})
    hit = serve(rf, lambda: HttpResponse("never"), **{"Accept-Encoding": coding})
    assert (miss["X-Cache"], hit["X-Cache"]) == ("MISS", "HIT")
    assert miss["Content-Encoding"] == hit["Content-Encoding"] == coding
    assert miss.content == hit.content and miss["ETag"] == hit["ETag"]
    assert miss["Content-Length"] == str(len(miss.content))
    assert "Accept-Encoding" in miss["Vary"]


def test_a_miss_for_a_client_that_accepts_no_encoding_is_identity(rf):
    miss = serve(rf, lambda: HttpResponse(BIG), **{"Accept-Encoding": "gzip;q=0"})
    assert not miss.has_header("Content-Encoding") and miss.content == BIG.encode()


def test_the_debug_toolbar_gets_identity_bodies(rf, settings):
    """The toolbar injects itself into uncompressed HTML only; who sees it is its
    own rule (``SHOW_TOOLBAR_CALLBACK``, here the default: INTERNAL_IPS)."""
    settings.DEBUG, settings.INTERNAL_IPS = True, ["127.0.0.1"]
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "debug_toolbar"]
    for _ in range(2):  # the miss, then the hit (the view path, under the toolbar)
        response = serve(rf, lambda: HttpResponse(BIG), **{"Accept-Encoding": "gzip"})
        assert not response.has_header("Content-Encoding")


def test_the_holder_stores_and_frees_the_lock_together(rf):
    key = response_key(rf.get("/x"), namespace="t")
    generation = freshness.generation()
    assert locks.wait_or_lock(key, generation=generation, fresh=bool) == (None, True)
    locks.store_and_release(key, {"v": 1}, 60, generation=generation)
    assert cache.get(key) == {"v": 1}
    assert cache.get(lock_key(key, generation)) is None


def test_storing_and_freeing_the_lock_is_one_redis_round_trip(rf, redis_cache):
    raw = redis_cache.client.get_client(write=True)
    key = response_key(rf.get("/x"), namespace="t")
    locks.wait_or_lock(key, generation=7, fresh=bool)
    before = raw.info("stats")["total_commands_processed"]
    locks.store_and_release(key, {"v": 1}, 60, generation=7)
    # SET and DEL, in one pipeline (INFO itself is counted once, after).
    assert raw.info("stats")["total_commands_processed"] - before == 3
    assert redis_cache.get(key) == {"v": 1}
    assert redis_cache.get(lock_key(key, 7)) is None
    assert 0 < raw.ttl(redis_cache.make_key(key)) <= 60


def test_with_the_cache_unreachable_a_miss_is_not_frozen(rf):
    """Breaker open (the cache is down): nothing can be stored, so nothing is
    compressed for storing; the view's response goes on as it is (GZipMiddleware
    compresses it once, below)."""
    breaker.trip()
    try:
        response = serve(rf, lambda: HttpResponse(BIG), **{"Accept-Encoding": "gzip"})
    finally:
        breaker.reset()
    assert (response.content, response["X-Cache"]) == (BIG.encode(), "MISS")
    assert not response.has_header("Content-Encoding") and "ETag" not in response
    assert "Authorization" in response["Vary"]
