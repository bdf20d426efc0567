"""GET /api/books/export.ndjson: the list's items, streamed in keyset chunks."""

import gc
import gzip
import json
import threading
import tracemalloc
from datetime import date

import pytest
from asgiref.sync import async_to_sync
from django.db import connection, connections
from django.test import AsyncClient
from django.urls import resolve

from api import export
from books import seeding
from books.models import Book
from tests.conftest import make_books

pytestmark = pytest.mark.django_db

URL = "/api/books/export.ndjson"


def _lines(response) -> list[dict]:
    body = b"".join(response.streaming_content)
    if response.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return [json.loads(line) for line in body.splitlines()]


def _every_page(client, params: dict) -> list[dict]:
    """Every item of /api/books/, following ``next`` at page_size=100."""
    body = client.get("/api/books/", {**params, "page_size": "100"}).json()
    items = body["results"]
    while body["next"]:
        body = client.get(body["next"]).json()
        items += body["results"]
    return items


@pytest.fixture
def catalogue(monkeypatch):
    """250 seeded books, exported 60 at a time: four full chunks and a short one."""
    monkeypatch.setattr(export, "CHUNK", 60)
    seeding.seed(books=250, authors=30, seed=7)
    return Book.objects.all()


def test_the_route_is_not_taken_for_a_book_id():
    assert resolve(URL).url_name == "book-export"


def test_every_line_is_the_list_item_in_the_list_order(api_client, catalogue):
    response = api_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response.streaming
    lines = _lines(response)
    assert len(lines) == 250
    assert lines == _every_page(api_client, {})


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "title"},
        {"ordering": "-title", "published_after": "2000-01-01"},
        {"ordering": "published", "search": "e"},
        {"genre": "{genre}"},
        {"author": "{author}", "publisher": "{publisher}"},
    ],
    ids=lambda p: "&".join(p),
)
def test_the_list_filters_and_orderings_apply(api_client, catalogue, params):
    book = Book.objects.exclude(publisher=None).filter(genres__isnull=False).first()
    values = {
        "{genre}": book.genres.first().slug,
        "{author}": str(book.author_id),
        "{publisher}": str(book.publisher_id),
    }
    params = {key: values.get(value, value) for key, value in params.items()}

    lines = _lines(api_client.get(URL, params))

    assert lines, "the filter matches some books"
    assert lines == _every_page(api_client, params)


@pytest.mark.parametrize(("books", "chunks"), [(240, 4), (250, 5), (0, 1)])
def test_each_chunk_is_two_queries_and_none_is_empty(
    api_client, django_assert_num_queries, monkeypatch, books, chunks
):
    monkeypatch.setattr(export, "CHUNK", 60)
    if books:
        seeding.seed(books=books, authors=10, seed=3)
    response = api_client.get(URL)
    # A page of rows, then their genres; an empty catalogue has no genres to read.
    with django_assert_num_queries(2 * chunks if books else 1):
        assert len(_lines(response)) == books


def test_bad_filters_are_a_json_400_naming_them(api_client):
    response = api_client.get(
        URL, {"published_after": "soon", "author": "x"}, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"published_after", "author"}


def test_gzip_when_asked(api_client, catalogue):
    plain = _lines(api_client.get(URL))
    response = api_client.get(URL, HTTP_ACCEPT_ENCODING="gzip")

    assert response["Content-Encoding"] == "gzip"
    assert _lines(response) == plain


def test_any_accept_header_gets_ndjson(api_client):
    make_books(2)
    response = api_client.get(URL, HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 200
    assert len(_lines(response)) == 2


def test_never_cached(api_client, django_assert_num_queries):
    make_books(3)
    _lines(api_client.get(URL))
    response = api_client.get(URL)

    with django_assert_num_queries(2):
        assert len(_lines(response)) == 3
    assert response["X-Cache"] == "MISS"
    assert "no-store" in response["Cache-Control"]


def test_head_runs_no_query(api_client, django_assert_num_queries):
    make_books(3)
    with django_assert_num_queries(0):
        response = api_client.head(URL)
        assert b"".join(response.streaming_content) == b""
    assert response.status_code == 200


def test_writes_are_refused(api_client):
    assert api_client.post(URL, {}).status_code in (401, 403, 405)


def test_under_asgi_the_stream_is_asynchronous_and_the_same(api_client, catalogue):
    """Given a synchronous iterator, Django's ASGI handler would read all of it into
    memory before sending; the view hands ASGI an asynchronous one."""

    async def export_over_asgi() -> tuple[bool, bytes]:
        response = await AsyncClient().get(URL)
        body = b"".join([chunk async for chunk in response.streaming_content])
        return response.is_async, body

    is_async, body = async_to_sync(export_over_asgi)()

    assert is_async
    assert [json.loads(line) for line in body.splitlines()] == _lines(
        api_client.get(URL)
    )


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_export_is_one_snapshot(postgres, api_client, monkeypatch):
    """A keyset walk outside a snapshot misses a book that moves behind its cursor,
    or sends it twice; one REPEATABLE READ transaction sees neither."""
    monkeypatch.setattr(export, "CHUNK", 10)
    make_books(30, reviews_per_book=0)
    expected = _lines(api_client.get(URL))
    last = expected[-1]

    stream = iter(api_client.get(URL).streaming_content)
    first_chunk = next(stream)

    def move_the_last_book_to_the_front() -> None:
        Book.objects.filter(pk=last["id"]).update(
            title="Moved", published=date(2999, 1, 1)
        )
        connections.close_all()

    writer = threading.Thread(target=move_the_last_book_to_the_front)
    writer.start()
    writer.join()

    rest = b"".join(stream)
    lines = [json.loads(line) for line in (first_chunk + rest).splitlines()]
    assert lines == expected
    assert Book.objects.get(pk=last["id"]).title == "Moved"


# --- Memory: one chunk's worth, whatever the size -------------------------------------


def _peak_while_streaming(client) -> tuple[int, int]:
    """(peak bytes Python allocated while the export streamed, lines read); each
    chunk is dropped once counted, as a server drops it once sent."""
    gc.collect()
    tracemalloc.start()
    try:
        lines = 0
        for chunk in client.get(URL).streaming_content:
            lines += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, lines


def _sizes() -> tuple[int, int]:
    return (10_000, 100_000) if connection.vendor == "postgresql" else (1_000, 10_000)


def test_memory_stays_flat_as_the_catalogue_grows(api_client):
    """The larger export's peak stays within 1.5x the smaller's + 2 MB. On SQLite
    the sizes are 1,000 and 10,000 books (seeding 100,000 there takes minutes); the
    PostgreSQL pass measures 10,000 and 100,000."""
    small, large = _sizes()
    if connection.vendor == "postgresql":
        # Check each COPY's foreign keys as it lands: deferred to the test's end,
        # 600,000 checks would run as one statement, past the statement timeout.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    seeding.seed(books=small, authors=small // 8, seed=11)
    _peak_while_streaming(api_client)  # warm-up: imports, querysets built once
    small_peak, small_lines = _peak_while_streaming(api_client)
    seeding.seed(books=large - small, authors=(large - small) // 8, seed=12)
    large_peak, large_lines = _peak_while_streaming(api_client)

    assert (small_lines, large_lines) == (small, large)
    assert large_peak < 1.5 * small_peak + 2 * 1024 * 1024, (small_peak, large_peak)
