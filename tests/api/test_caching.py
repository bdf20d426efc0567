"""API response caching: MISS then HIT, freshness after writes, ETag/304, no leakage
between users, Server-Timing everywhere, and a real Redis outage."""

import gzip
import logging
import os
import shutil
import time

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from books.cache import breaker, freshness
from tests import faults
from tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

BOOKS = "/api/books/"


def detail(book) -> str:
    return f"/api/books/{book.pk}/"


# --- MISS then HIT --------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 25])
def test_book_list_is_a_miss_then_a_hit_with_no_query(
    size, api_client, book_factory, django_assert_num_queries
):
    book_factory(size)
    cold = api_client.get(BOOKS)
    with django_assert_num_queries(0):
        warm = api_client.get(BOOKS)
    assert (cold.headers["X-Cache"], warm.headers["X-Cache"]) == ("MISS", "HIT")
    assert warm.content == cold.content
    assert warm.headers["Content-Type"] == cold.headers["Content-Type"]
    assert warm.json()["results"]


@pytest.mark.parametrize(
    "path",
    ["/api/books/{book}/", "/api/authors/", "/api/authors/{author}/", "/api/genres/"],
)
def test_details_and_other_lists_hit_with_no_query(
    path, api_client, book_factory, django_assert_num_queries
):
    book = book_factory(3)[0]
    url = path.format(book=book.pk, author=book.author_id)
    assert api_client.get(url).headers["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        assert api_client.get(url).headers["X-Cache"] == "HIT"


def test_a_books_reviews_hit_and_a_posted_review_shows_next(
    api_client,
    token_client,
    book_factory,
    django_assert_num_queries,
    django_capture_on_commit_callbacks,
):
    book = book_factory(1)[0]
    url = f"/api/books/{book.pk}/reviews/"
    assert api_client.get(url).headers["X-Cache"] == "MISS"
    with django_assert_num_queries(0):
        assert api_client.get(url).headers["X-Cache"] == "HIT"
    with django_capture_on_commit_callbacks(execute=True):
        posted = token_client.post(url, {"rating": 5, "body": "New voice"})
    assert posted.status_code == 201
    assert api_client.get(url).json()["results"][0]["body"] == "New voice"


def test_query_string_is_normalised(api_client, book_factory):
    book_factory(3)
    api_client.get(BOOKS, QUERY_STRING="ordering=title&page_size=2")
    again = api_client.get(BOOKS, QUERY_STRING="page_size=2&ordering=title")
    assert again.headers["X-Cache"] == "HIT"
    other = api_client.get(BOOKS, QUERY_STRING="page_size=3&ordering=title")
    assert other.headers["X-Cache"] == "MISS"
    assert len(other.json()["results"]) == 3


def test_errors_are_misses_and_never_stored(api_client):
    for _ in range(2):
        response = api_client.get(BOOKS, {"published_after": "not-a-date"})
        assert (response.status_code, response.headers["X-Cache"]) == (400, "MISS")
    for _ in range(2):
        response = api_client.get("/api/books/999999/")
        assert (response.status_code, response.headers["X-Cache"]) == (404, "MISS")


def test_browsable_api_is_not_cached_and_does_not_share_the_json_entry(
    api_client, book_factory
):
    book_factory(1)
    api_client.get(BOOKS)  # the JSON entry
    for _ in range(2):
        html = api_client.get(BOOKS, HTTP_ACCEPT="text/html")
        assert html.headers["Content-Type"].startswith("text/html")
        assert html.headers["X-Cache"] == "MISS"
    assert "Accept" in api_client.get(BOOKS).headers["Vary"]


def test_naive_endpoints_are_never_cached(
    api_client, book_factory, django_assert_max_num_queries
):
    book_factory(3)
    api_client.get("/api/naive/books/")
    response = api_client.get("/api/naive/books/")
    assert response.headers.get("X-Cache") != "HIT"
    assert "ETag" not in response.headers


# --- No leakage between users ---------------------------------------------------------


def test_token_requests_bypass_the_shared_cache(
    api_client, token_client, book_factory, django_assert_max_num_queries
):
    book_factory(2)
    api_client.get(BOOKS)
    assert api_client.get(BOOKS).headers["X-Cache"] == "HIT"
    for _ in range(2):
        response = token_client.get(BOOKS)
        assert response.status_code == 200
        assert "X-Cache" not in response.headers and "ETag" not in response.headers
        assert "Authorization" in response.headers["Vary"]
        assert "private" in response.headers["Cache-Control"]


def test_authenticated_responses_are_never_stored(
    api_client, token_client, session_client, book_factory
):
    book_factory(2)
    token_client.get(BOOKS)
    session_client.get(BOOKS)
    # The first anonymous read still misses: nothing was stored for the others.
    assert api_client.get(BOOKS).headers["X-Cache"] == "MISS"


def test_anonymous_responses_vary_on_authorization(api_client, book_factory):
    book_factory(1)
    for _ in range(2):
        assert "Authorization" in api_client.get(BOOKS).headers["Vary"]


def test_invalid_token_is_401_not_a_cached_200(api_client, book_factory):
    book_factory(1)
    api_client.get(BOOKS)
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api_client.get(BOOKS).status_code == 401


# --- A write is visible on the very next read -----------------------------------------


def _warm(client, *urls):
    for url in urls:
        client.get(url)
        assert client.get(url).headers["X-Cache"] == "HIT", url


def test_api_book_edit_is_visible_in_list_detail_and_page(
    api_client, editor_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(3)[0]
    page = Client()
    _warm(api_client, BOOKS, detail(book))
    _warm(page, "/", f"/books/{book.pk}/")
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.patch(detail(book), {"title": "Freshly Renamed"})
    assert response.status_code == 200
    titles = [b["title"] for b in api_client.get(BOOKS).json()["results"]]
    assert "Freshly Renamed" in titles
    assert api_client.get(detail(book)).json()["title"] == "Freshly Renamed"
    assert "Freshly Renamed" in page.get("/").content.decode()
    assert "Freshly Renamed" in page.get(f"/books/{book.pk}/").content.decode()


def test_author_rename_shows_in_the_book_list(
    api_client, editor_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(2)[0]
    _warm(api_client, BOOKS)
    with django_capture_on_commit_callbacks(execute=True):
        response = editor_client.patch(
            f"/api/authors/{book.author_id}/", {"name": "Octavia Renamed"}
        )
    assert response.status_code == 200
    authors = {b["author"]["name"] for b in api_client.get(BOOKS).json()["results"]}
    assert "Octavia Renamed" in authors


def test_created_and_deleted_books_show_on_the_next_read(
    api_client, editor_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(2)[0]
    _warm(api_client, BOOKS, detail(book))
    with django_capture_on_commit_callbacks(execute=True):
        editor_client.delete(detail(book))
    assert api_client.get(detail(book)).status_code == 404
    ids = [b["id"] for b in api_client.get(BOOKS).json()["results"]]
    assert book.pk not in ids


def test_new_review_moves_the_rating_in_the_list(
    api_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1, reviews_per_book=0)[0]
    _warm(api_client, BOOKS)
    with django_capture_on_commit_callbacks(execute=True):
        ReviewFactory(book=book, rating=2)  # a shell, admin or Celery write
    rating = api_client.get(BOOKS).json()["results"][0]["rating"]
    assert rating == {"average": 2.0, "count": 1}


# --- Conditional GET ------------------------------------------------------------------


def test_if_none_match_is_304_with_no_body_and_no_query(
    api_client, book_factory, django_assert_num_queries
):
    book = book_factory(2)[0]
    for url in (BOOKS, detail(book)):
        etag = api_client.get(url).headers["ETag"]
        assert etag.startswith('"')  # strong
        with django_assert_num_queries(0):
            response = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304 and response.content == b""
        assert response.headers["ETag"] == etag


def test_etag_survives_gzip_in_its_weak_form(api_client, book_factory):
    book_factory(25)
    plain = api_client.get(BOOKS)
    zipped = api_client.get(BOOKS, HTTP_ACCEPT_ENCODING="gzip")
    # One cache entry serves both encodings: GZip compresses after the cache.
    assert zipped.headers["X-Cache"] == "HIT"
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content) / 3
    assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]
    revalidated = api_client.get(
        BOOKS,
        HTTP_IF_NONE_MATCH=zipped.headers["ETag"],
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert revalidated.status_code == 304


def test_stale_etag_gets_the_fresh_body(
    api_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    etag = api_client.get(detail(book)).headers["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        book.title = "New Edition"
        book.save()
    response = api_client.get(detail(book), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["title"] == "New Edition"
    assert response.headers["ETag"] != etag


# --- Server-Timing --------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", BOOKS),
        ("get", "/api/naive/books/"),
        ("get", "/api/books/999999/"),
        ("post", BOOKS),
        ("get", "/api/"),
    ],
)
def test_every_api_response_has_server_timing(method, path, api_client):
    response = getattr(api_client, method)(path)
    timing = response.headers["Server-Timing"]
    assert all(f"{name};dur=" in timing for name in ("db", "cache", "total"))


def test_server_timing_counts_queries(api_client, book_factory):
    book_factory(2)
    miss = api_client.get(BOOKS).headers["Server-Timing"]
    hit = api_client.get(BOOKS).headers["Server-Timing"]
    assert 'desc="0 queries"' not in miss
    assert 'desc="0 queries"' in hit


# --- A real Redis outage --------------------------------------------------------------


@pytest.fixture
def throwaway_redis(tmp_path):
    if not os.environ.get("REDIS_URL"):
        pytest.skip(
            "service pass only (REDIS_URL set): starts its own redis-server and "
            "needs django-redis's IGNORE_EXCEPTIONS path, not local memory"
        )
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    # The fault drill's own throwaway server: loopback, a free port, no persistence.
    server = faults.Redis(tmp_path, faults.free_port())
    server.start()
    yield server
    server.stop()


def _redis_caches(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "KEY_PREFIX": "outage-test",
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }


def test_redis_down_serves_from_the_database_and_recovers_without_restart(
    throwaway_redis,
    api_client,
    book_factory,
    caplog,
    django_capture_on_commit_callbacks,
):
    book = book_factory(3)[0]
    urls = [
        BOOKS,
        detail(book),
        "/",
        f"/books/{book.pk}/",
        f"/authors/{book.author_id}/",
    ]
    with override_settings(
        CACHES=_redis_caches(throwaway_redis.port),
        DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS=True,
        DJANGO_REDIS_LOGGER="django_redis.cache",
    ):
        assert cache.client.get_client().ping()
        for url in urls:
            assert api_client.get(url).headers["X-Cache"] == "MISS"
            assert api_client.get(url).headers["X-Cache"] == "HIT", url

        throwaway_redis.stop()
        caplog.clear()
        for log_filter in logging.getLogger("django_redis.cache").filters:
            log_filter._next = 0.0  # a fresh interval, whatever earlier tests logged
        with caplog.at_level(logging.ERROR, logger="django_redis.cache"):
            for _ in range(5):
                for url in urls:
                    response = api_client.get(url)
                    assert response.status_code == 200, url
                    assert response.headers["X-Cache"] == "MISS"
            # Writes still succeed (the sync publishes them once Redis is back).
            with django_capture_on_commit_callbacks(execute=True):
                book.title = "Written During The Outage"
                book.save()
        errors = [r for r in caplog.records if r.name == "django_redis.cache"]
        assert 1 <= len(errors) <= 2, "one log line per interval, not one per call"

        assert not breaker.cache_available()  # the breaker skips the dead cache

        throwaway_redis.start()  # same port, same cache object: no app restart
        while not breaker.cache_available():  # the breaker closes on its own
            time.sleep(0.05)
        for url in urls:
            first = api_client.get(url)
            assert first.status_code == 200
            assert api_client.get(url).headers["X-Cache"] == "HIT", url
        assert api_client.get(detail(book)).json()["title"] == (
            "Written During The Outage"
        )


def test_a_publish_lost_to_a_paused_redis_is_made_by_the_sync(
    throwaway_redis, api_client, book_factory, django_capture_on_commit_callbacks
):
    """A paused (not restarted) Redis keeps its entries: a publish it missed must not
    leave them live once it answers again. Nothing is remembered in the writer: the
    sync (one tick of it here; a thread every CATALOGUE_SYNC_SECONDS in a server)
    reads the version from the database and publishes it."""
    import redis

    book = book_factory(1)[0]
    with override_settings(CACHES=_redis_caches(throwaway_redis.port)):
        api_client.get(detail(book))
        assert api_client.get(detail(book)).headers["X-Cache"] == "HIT"

        control = redis.Redis(port=throwaway_redis.port, socket_timeout=30)
        control.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        with django_capture_on_commit_callbacks(execute=True):
            book.title = "Written While Paused"
            book.save()  # the publish times out after SOCKET_TIMEOUT
        control.ping()  # blocks until the pause is over; the old entry is still there
        breaker.reset()

        freshness.sync_once()
        response = api_client.get(detail(book))
        assert response.json()["title"] == "Written While Paused"
        assert response.headers["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/naive/books/",
        "/api/naive/authors/",
        "/api/schema/",
        "/api/books/999999/",
        "/api/books/?published_after=yesterday",
    ],
)
def test_every_anonymous_api_get_carries_x_cache(client, path, book_factory):
    book_factory(2)
    response = client.get(path, HTTP_ACCEPT="application/json")
    assert response.status_code < 500
    assert response.headers["X-Cache"] == "MISS"
    assert client.get(path, HTTP_ACCEPT="application/json")["X-Cache"] == "MISS"


def test_authenticated_api_gets_carry_no_x_cache(api_client, book_factory):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    book_factory(1)
    token = Token.objects.create(user=User.objects.create_user("reader"))
    response = api_client.get("/api/books/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200 and "X-Cache" not in response.headers
