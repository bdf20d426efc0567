"""bench.client: bodies, their gzip size, and when a streamed body's first byte came."""

import gzip

import pytest
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils.text import compress_sequence

from bench.client import body_of

CHUNKS = [b'{"id": 1}\n' * 50, b'{"id": 2}\n' * 50]


def _marks() -> tuple[list[int], callable]:
    calls: list[int] = []
    return calls, lambda: calls.append(1)


def test_a_streamed_gzip_body_marks_its_first_byte_of_content_once():
    response = StreamingHttpResponse(compress_sequence(iter(CHUNKS)))
    response["Content-Encoding"] = "gzip"
    calls, mark = _marks()

    body, gzip_bytes = body_of(response, mark)

    assert body == b"".join(CHUNKS)
    assert gzip_bytes == len(b"".join(compress_sequence(iter(CHUNKS))))
    assert calls == [1]


def test_a_plain_streamed_body_is_read_whole():
    calls, mark = _marks()
    body, gzip_bytes = body_of(StreamingHttpResponse(iter(CHUNKS)), mark)

    assert body == b"".join(CHUNKS) and calls == [1]
    assert gzip.decompress(gzip.compress(body)) == body and gzip_bytes > 0


def test_a_buffered_body_has_no_first_byte_mark():
    calls, mark = _marks()
    body, _ = body_of(HttpResponse(b"x" * 300), mark)
    assert body == b"x" * 300 and calls == []


# --- Server: the timing pass's WSGI calls ---------------------------------------------


def _echo(request):
    """The environ a view sees, as JSON."""
    from django.http import JsonResponse

    keys = ("REMOTE_ADDR", "HTTP_HOST", "HTTP_ACCEPT_ENCODING", "QUERY_STRING")
    return JsonResponse({key: request.META.get(key) for key in keys})


def _stream(request):
    return StreamingHttpResponse(iter(CHUNKS))


urlpatterns = [path("echo/", _echo), path("stream/", _stream)]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_server_calls_the_wsgi_application_as_a_client_would_ask(monkeypatch):
    """Host and Accept-Encoding from the client, a new visitor address each call."""
    from django.core.handlers import wsgi

    from bench.client import Server, make_client

    seen = []
    original = wsgi.WSGIRequest.__init__

    def record(self, environ):
        original(self, environ)
        seen.append(environ)

    monkeypatch.setattr(wsgi.WSGIRequest, "__init__", record)
    server = Server.like(make_client())
    assert server.get("/echo/?a=1") == "200 OK"
    assert server.get("/echo/") == "200 OK"
    first, second = seen
    assert first["QUERY_STRING"] == "a=1" and first["PATH_INFO"] == "/echo/"
    assert first["HTTP_ACCEPT_ENCODING"] == "gzip"
    assert first["HTTP_HOST"] == make_client().defaults["HTTP_HOST"]
    assert first["REMOTE_ADDR"] != second["REMOTE_ADDR"]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_the_server_marks_a_streamed_bodys_first_byte_and_closes_it():
    from django.core.signals import request_finished

    from bench.client import Server, make_client

    finished, (calls, mark) = [], _marks()
    request_finished.connect(
        lambda **kwargs: finished.append(1), weak=False, dispatch_uid="test-server"
    )
    try:
        assert Server.like(make_client()).get("/stream/", mark) == "200 OK"
    finally:
        request_finished.disconnect(dispatch_uid="test-server")
    assert calls == [1] and len(finished) == 1  # the body was closed
    assert Server.like(make_client()).get("/missing/") == "404 Not Found"
