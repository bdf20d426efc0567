"""Rate limits: DRF's throttles, never applied to the site's own traffic.

- ``anon`` / ``user``: every API request, per client address or per user.
- ``naive``: the untuned endpoints (``api.naive``, ~400 queries a page at
  ``page_size=100``) get their own much stricter budget, for anonymous and signed-in
  clients alike, on top of the general one.

Requests the site makes to itself (cache warming, ``books.cache.warming``) carry
``core.http.INTERNAL_REQUEST`` in their WSGI environ, which no HTTP header can set;
they are never throttled, so warming cannot eat a real client's budget or be refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import throttling

from core.http import is_internal

if TYPE_CHECKING:  # rest_framework.views imports this module (via its settings)
    from rest_framework.request import Request
    from rest_framework.views import APIView


class InternalExemptMixin:
    def allow_request(self, request: Request, view: APIView) -> bool:
        if is_internal(request._request):
            return True
        return super().allow_request(request, view)  # type: ignore[misc]


class AnonRateThrottle(InternalExemptMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(InternalExemptMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(InternalExemptMixin, throttling.ScopedRateThrottle):
    """The budget named by the view's ``throttle_scope``, per user or address; views
    without one are not limited by it."""
