"""Rate limits: DRF's throttles, never applied to the site's own traffic.

- ``anon`` / ``user``: every API request, per client address (anonymous clients)
  or per user (signed-in ones).
- ``naive``: the untuned endpoints (``api.naive``, ~400 queries a page at
  ``page_size=100``) get their own much stricter budget, for anonymous and signed-in
  clients alike, on top of the general one.

Requests the site makes to itself (cache warming, ``books.cache.warming``) carry
``core.http.INTERNAL_REQUEST`` in their WSGI environ, which no HTTP header can set;
they are never throttled, so warming cannot eat a real client's budget or be refused.

One cache round trip a check: DRF's throttles read a list of timestamps and write it
back (two round trips and a pickle per request, on every request that reaches DRF).
These count in fixed windows instead: one ``INCR`` (with its ``EXPIRE``, in one Lua
call on Redis). A client can get up to twice its rate across a window boundary; for
abuse protection that is the usual trade (Redis' own rate-limiting pattern).
Anonymous cache hits never reach a throttle at all (see ``books.cache.middleware``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import throttling

from books.cache import breaker
from core.http import is_internal

if TYPE_CHECKING:  # rest_framework.views imports this module (via its settings)
    from rest_framework.request import Request
    from rest_framework.views import APIView

    _RateThrottle = throttling.SimpleRateThrottle  # what FixedWindowMixin extends
else:
    _RateThrottle = object


_INCR_WITH_TTL = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _count(key: str, window: int) -> int:
    """This window's hits for ``key``, this one included: one round trip."""
    client: Any = getattr(cache, "client", None)  # django-redis's, if configured
    if hasattr(client, "get_client"):
        # Redis down: throttling stops, requests are served (see settings), and for
        # a moment nobody waits on its timeout again (books.cache.breaker).
        if not breaker.cache_available():
            return 0
        try:
            raw = client.get_client(write=True)
            return int(raw.eval(_INCR_WITH_TTL, 1, cache.make_key(key), window + 1))
        except RedisError:
            breaker.trip()
            return 0
    cache.add(key, 0, window + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window + 1)
        return 1


class FixedWindowMixin(_RateThrottle):
    """``allow_request`` as a fixed-window counter (one round trip), internal
    requests exempt."""

    num_requests: int
    duration: int

    def allow_request(self, request: Request, view: APIView) -> bool:
        if is_internal(request._request):
            return True
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.window_ends = (window + 1) * self.duration
        self.now = now
        return _count(f"{key}:{window}", self.duration) <= self.num_requests

    def wait(self) -> float | None:
        return max(0.0, self.window_ends - self.now)


class AnonRateThrottle(FixedWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FixedWindowMixin, throttling.UserRateThrottle):
    """Signed-in users only. DRF's counts anonymous clients too, by address, beside
    ``anon``'s count of the same address: a second round trip on every anonymous
    request reaching DRF (each cache miss), for a limit ``anon`` already applies."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        return super().get_cache_key(request, view)


class ScopedRateThrottle(FixedWindowMixin, throttling.ScopedRateThrottle):
    """The budget named by the view's ``throttle_scope``, per user or address; views
    without one are not limited by it."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        # (None, None) for a rate of None (unlimited), as DRF's own __init__ sets
        # them; djangorestframework-stubs type both attributes int.
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[assignment]
        return super().allow_request(request, view)
