"""How bench makes its in-process requests, and what it measures.

Anonymous GETs that accept gzip, each from its own documentation-range address so no
throttle ever answers, through the real middleware stack. The audit pass uses
``django.test.Client`` (its responses carry the exception behind a 500). The timing
pass uses ``Server``: the project's WSGI application called as a WSGI server calls
it (an environ in, the body iterated, ``close()``), so the latencies count what a
server pays per request and not the test client's bookkeeping (request building,
signal hooks, cookies), which took ~0.5 ms a request, more than a cache hit.
"""

from __future__ import annotations

import gzip
import io
import itertools
import sys
import zlib
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.test import Client

# Anonymous visitors come from many addresses; one address making thousands of
# requests a minute would only measure the throttle's 429. The documentation ranges
# (RFC 5737) give 762 distinct, never-routed, never-internal addresses.
_VISITORS = itertools.cycle(
    [
        f"{net}.{host}"
        for net in ("192.0.2", "198.51.100", "203.0.113")
        for host in range(1, 255)
    ]
)


def visitor() -> dict[str, Any]:
    """Request extras (WSGI environ) for the next anonymous visitor's address."""
    return {"REMOTE_ADDR": next(_VISITORS)}


def make_client() -> Client:
    """An anonymous client that sends a Host the settings accept and asks for gzip."""
    host = "localhost"
    for allowed in settings.ALLOWED_HOSTS:
        if allowed not in ("*", "testserver"):
            host = allowed.lstrip(".")
            break
    # A 500 is reported as a result row, not raised. Visitor addresses are outside
    # INTERNAL_IPS, so the debug toolbar (DEBUG=true) never injects itself.
    return Client(
        raise_request_exception=False,
        HTTP_HOST=host,
        HTTP_ACCEPT_ENCODING="gzip",
        REMOTE_ADDR="192.0.2.1",
    )


def _streamed(
    response: StreamingHttpResponse, first_byte: Callable[[], None] | None
) -> tuple[bytes, int]:
    """Read a streaming body as it is produced; ``first_byte()`` is called when the
    first byte of content arrives (a gzip stream's header alone is not content)."""
    decoder = (
        zlib.decompressobj(wbits=31)
        if response.get("Content-Encoding") == "gzip"
        else None
    )
    parts, size = [], 0
    for chunk in response:  # its streaming_content (a sync body here)
        size += len(chunk)
        data = decoder.decompress(chunk) if decoder else chunk
        if data and first_byte is not None:
            first_byte()
            first_byte = None
        parts.append(data)
    if decoder:
        parts.append(decoder.flush())
    body = b"".join(parts)
    return body, size if decoder else len(gzip.compress(body, compresslevel=6))


def body_of(
    response: HttpResponseBase, first_byte: Callable[[], None] | None = None
) -> tuple[bytes, int]:
    """The uncompressed body and the size of its gzip encoding."""
    if isinstance(response, StreamingHttpResponse):  # FileResponse included
        return _streamed(response, first_byte)
    assert isinstance(response, HttpResponse)  # Django's other kind
    raw = response.content
    if response.get("Content-Encoding") == "gzip":
        return gzip.decompress(raw), len(raw)
    return raw, len(gzip.compress(raw, compresslevel=6))


def fetch(
    client: Client, path: str, first_byte: Callable[[], None] | None = None
) -> tuple[HttpResponseBase, bytes, int]:
    """GET ``path`` as the next visitor: (response, uncompressed body, gzip bytes).

    For a streaming response ``first_byte()`` marks the first byte of content."""
    response = client.get(path, **visitor())
    body, gzip_bytes = body_of(response, first_byte)
    return response, body, gzip_bytes


def _drain(
    chunks: Iterable[bytes], gzipped: bool, first_byte: Callable[[], None] | None
) -> None:
    """Consume a streamed body as a server sends it, decoding only until the first
    byte of content (a gzip stream's header alone is not content) to mark it."""
    decoder = zlib.decompressobj(wbits=31) if gzipped else None
    for chunk in chunks:
        if first_byte is not None and (decoder.decompress(chunk) if decoder else chunk):
            first_byte()
            first_byte = None


def _in_transaction() -> bool:
    return any(c.in_atomic_block for c in connections.all(initialized_only=True))


class Server:
    """The project's WSGI application, called as a WSGI server calls it.

    ``get()`` builds the environ a server would (the client's Host, Accept-Encoding
    and the next visitor's address), calls the application, iterates the body it
    returns and closes it: Django's request_started and request_finished run, so a
    pooled database connection is checked out and returned each request, as under
    gunicorn. Inside a transaction (a test's) connections are left open, as the test
    client leaves them. Only a streamed body is read chunk by chunk, to mark its
    first byte.
    """

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.application = WSGIHandler()
        self.base = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "testserver",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            **{k: v for k, v in defaults.items() if isinstance(v, str)},
        }

    @staticmethod
    def settle() -> None:
        """Return the database connections opened between requests (a cache clear
        reads the catalogue version), as the end of a request returns them, so the
        next request does not pay for it. Inside a transaction (a test's) they stay."""
        if not _in_transaction():
            close_old_connections()

    @classmethod
    def like(cls, client: Client) -> Server:
        """A server answering as ``client`` asks (its Host and Accept-Encoding)."""
        return cls(client.defaults)

    def get(self, path: str, first_byte: Callable[[], None] | None = None) -> str:
        """GET ``path`` as the next visitor; the response's status line."""
        url = urlsplit(path)
        environ = {
            **self.base,
            **visitor(),
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "wsgi.input": io.BytesIO(),
        }
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            started[:] = [status, headers]
            return len  # the write() callable; Django never calls it

        signals = (request_started, request_finished)
        kept = [
            signal
            for signal in (signals if _in_transaction() else ())
            if signal.disconnect(close_old_connections)
        ]
        try:
            body = self.application(environ, start_response)
            try:
                if isinstance(body, StreamingHttpResponse):
                    gzipped = ("Content-Encoding", "gzip") in started[1]
                    _drain(body, gzipped, first_byte)
                else:
                    b"".join(body)
            finally:
                body.close()
        finally:
            for signal in kept:
                signal.connect(close_old_connections)
        return started[0]
