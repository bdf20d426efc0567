"""books.cache.keys: response keys."""

from books.cache.keys import response_key


def test_response_key_ignores_parameter_order(rf):
    a = response_key(rf.get("/api/books/?b=2&a=1"), namespace="x")
    b = response_key(rf.get("/api/books/?a=1&b=2"), namespace="x")
    c = response_key(rf.get("/api/books/?a=1&b=3"), namespace="x")
    assert a == b != c


def test_response_key_varies_on_media_type_and_host(rf):
    request = rf.get("/api/books/")
    json = response_key(request, namespace="x", variant="application/json")
    html = response_key(request, namespace="x", variant="text/html")
    other = rf.get("/api/books/", HTTP_HOST="127.0.0.1")
    assert len({json, html, response_key(other, namespace="x")}) == 3


def test_response_key_keeps_only_the_parameters_the_view_reads(rf):
    plain = response_key(rf.get("/?genre=x"), namespace="x", params={"genre"})
    junk = response_key(rf.get("/?genre=x&junk=1"), namespace="x", params={"genre"})
    assert plain == junk
