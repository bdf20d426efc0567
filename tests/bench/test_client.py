"""bench.client: bodies, their gzip size, and when a streamed body's first byte came."""

import gzip

from django.http import HttpResponse, StreamingHttpResponse
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
