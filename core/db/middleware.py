"""Per request: where reads may go, read-your-writes, and a second try on the primary.

Installed right after ``SessionMiddleware`` when ``DATABASE_REPLICA_URLS`` is set.

- Every request gets a read scope (``core.db.routing``); safe requests may read from a
  replica, anything else reads from the primary.
- Read-your-writes: a write that succeeds marks its client (a hash of its
  ``Authorization`` header or its session key: clients without credentials cannot
  write) in the cache for ``REPLICA_PIN_SECONDS``; while marked, its reads go to the
  primary. The mark outlives the time a replica may trail the primary and still
  serve (``REPLICA_MAX_LAG_SECONDS``), so when it expires every serving replica has
  the write. Checking it is one cache read, for requests with credentials only.
- A replica that fails under a safe request (connect or query) is out of the rotation
  at once, and the request runs again on the primary: the client sees a 200, not a
  503. Writes are never run twice; they never touch a replica anyway.
- A streamed response reads while the server sends it, after this middleware has
  returned: its iterator runs inside the request's scope too.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from core.db import routing
from core.db.replicas import monitor
from core.http import SAFE_METHODS
from core.timing import timed

logger = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def pin_key(credential: str) -> str:
    """Cache key marking a client that just wrote (the credential is hashed)."""
    digest = hashlib.blake2b(credential.encode(), digest_size=16).hexdigest()
    return f"replica-pin:{digest}"


def credentials(request: HttpRequest) -> set[str]:
    """What identifies the client before any view runs: token header, session key."""
    found = set()
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization:
        found.add(f"authorization:{authorization}")
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session_key:
        found.add(f"session:{session_key}")
    return found


def _written_by(request: HttpRequest) -> set[str]:
    """The request's credentials, and the session key it ends with (a login changes
    it, and the client's next request carries the new one)."""
    found = credentials(request)
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session_key:
        found.add(f"session:{session_key}")
    return found


class ReplicaMiddleware:
    """One read scope per request; pins after writes; a failed replica read retried."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        monitor.ensure_started()
        safe = request.method in SAFE_METHODS
        with routing.read_scope(primary=not safe or self._pinned(request)) as scope:
            response = self.get_response(request)
            if safe and scope.failed and response.status_code >= 500:
                logger.warning(
                    "replica %s failed under %s %s; answering from the primary",
                    ", ".join(sorted(scope.failed)),
                    request.method,
                    request.path,
                )
                scope.failed.clear()
                scope.use_primary()
                response = self.get_response(request)
        if request.method in WRITE_METHODS and response.status_code < 400:
            self._pin(request)
        if isinstance(response, StreamingHttpResponse):  # FileResponse included
            if response.is_async:  # api/export.py under ASGI
                chunks = cast(AsyncIterator[bytes], response.streaming_content)
                response.streaming_content = _within_async(scope, chunks)
            else:
                body = cast(Iterable[bytes], response.streaming_content)
                response.streaming_content = _within(scope, body)
        return response

    @staticmethod
    def _pinned(request: HttpRequest) -> bool:
        keys = [pin_key(credential) for credential in credentials(request)]
        if not keys:
            return False
        with timed():
            return bool(cache.get_many(keys))

    @staticmethod
    def _pin(request: HttpRequest) -> None:
        keys = [pin_key(credential) for credential in _written_by(request)]
        if keys:
            with timed():
                cache.set_many(dict.fromkeys(keys, 1), settings.REPLICA_PIN_SECONDS)


async def _within_async(
    scope: routing.ReadScope, chunks: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    """``_within`` for an async body: each chunk is produced inside ``scope``."""
    while True:
        with routing.entered(scope):
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
        yield chunk


def _within(scope: routing.ReadScope, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Produce each chunk inside ``scope`` (a streamed body queries as it goes)."""
    iterator = iter(chunks)
    while True:
        with routing.entered(scope):
            chunk = next(iterator, None)
        if chunk is None:
            return
        yield chunk
