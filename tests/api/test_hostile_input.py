"""Findings of the outside review: hostile input gets a clear 4xx, never a 500."""

import base64
import json

import pytest
from django.core.cache import cache

from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


def forged(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


CURSORS = {
    "Infinity as the id": '{"o":"-published,-id","v":["2001-01-01",Infinity],"r":0}',
    "NaN": '{"o":"-published,-id","v":["2001-01-01",NaN],"r":0}',
    "a float id": '{"o":"-published,-id","v":["2001-01-01",1.5],"r":0}',
    "a huge id": '{"o":"-published,-id","v":["2001-01-01",99999999999999999999],"r":0}',
    "a boolean id": '{"o":"-published,-id","v":["2001-01-01",true],"r":0}',
    "NUL in a date": '{"o":"-published,-id","v":["2001-01-01\\u0000",1],"r":0}',
    "a lone surrogate": '{"o":"-published,-id","v":["\\ud800",1],"r":0}',
    "a bad date": '{"o":"-published,-id","v":["2001-13-45",1],"r":0}',
    "a list direction": '{"o":"-published,-id","v":["2001-01-01",1],"r":[]}',
    "deep nesting": "[" * 5000 + "]" * 5000,
    "not an object": "[1, 2]",
}


@pytest.mark.parametrize("path", ["/api/books/", "/api/naive/books/", "/"])
@pytest.mark.parametrize("payload", CURSORS.values(), ids=list(CURSORS))
def test_a_forged_cursor_is_a_400(client, path, payload):
    BookFactory()
    response = client.get(path, {"cursor": forged(payload)})
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.json() == {"cursor": ["Invalid cursor."]}


def test_a_forged_cursor_on_a_books_reviews_is_a_400(client):
    book = BookFactory()
    payload = '{"o":"-created,-id","v":["2001-01-01T00:00:00Z",Infinity],"r":0}'
    response = client.get(f"/api/books/{book.pk}/reviews/", {"cursor": forged(payload)})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/api/books/", "/healthz", "/api/authors/"])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(client, path):
    body = "[" * 100_000 + '"\\u0000"' + "]" * 100_000
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400


def test_a_huge_json_array_is_a_400(client):
    body = json.dumps({"genres": list(range(5000))})
    response = client.post("/api/books/", body, content_type="application/json")
    assert response.status_code == 400
    assert "1000" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/authors/abc/", "/api/nothing-here/", "/api/books/1/x"]
)
def test_unknown_api_paths_are_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_if_none_match_star_is_not_a_304_for_a_missing_book(client):
    assert client.get("/api/books/999999/", HTTP_IF_NONE_MATCH="*").status_code == 404
    invalid = client.get("/api/books/", {"author": "x"}, HTTP_IF_NONE_MATCH="*")
    assert invalid.status_code == 400


def test_unknown_parameters_do_not_multiply_cache_entries(client):
    BookFactory()
    client.get("/api/books/")
    before = len(cache._cache) if hasattr(cache, "_cache") else None
    for i in range(50):
        assert client.get("/api/books/", {f"junk{i}": "x"})["X-Cache"] == "HIT"
    if before is not None:  # local memory: nothing new was stored
        assert len(cache._cache) == before


def test_a_format_suffix_path_is_a_json_404_not_a_500(client):
    book = BookFactory()
    response = client.get(f"/api/books/{book.pk}/reviews.json")
    assert response.status_code == 404 and response.json()["detail"]
