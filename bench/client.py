"""The in-process client every bench request goes through, and what it measures.

Anonymous GETs through ``django.test.Client`` (the real middleware stack) that accept
gzip, each from its own documentation-range address so no throttle ever answers.
"""

from __future__ import annotations

import gzip
import itertools
import zlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
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
