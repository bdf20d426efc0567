"""Small HTTP helpers every layer uses: who is anonymous, and how errors look."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

SAFE_METHODS = ("GET", "HEAD")
# Set in the WSGI environ by the site's own in-process requests (cache warming). HTTP
# headers arrive as HTTP_* keys, so no client can forge it.
INTERNAL_REQUEST = "bookshelf.internal"


def is_internal(request: HttpRequest) -> bool:
    return request.META.get(INTERNAL_REQUEST) is True


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or behind ``NUM_PROXIES`` proxies the
    address that many hops back in ``X-Forwarded-For`` (DRF's throttles use the same
    rule). Only a well-formed address counts; anything else falls back to
    ``REMOTE_ADDR``, so a forged header can never name an arbitrary identity.
    """
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if settings.NUM_PROXIES and forwarded:
        hops = forwarded.split(",")
        candidate = hops[-min(settings.NUM_PROXIES, len(hops))].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass
    return remote


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def is_anonymous_request(request: HttpRequest) -> bool:
    """No credentials at all: no Authorization header and no session cookie.

    Decided from headers alone, so a cache hit needs no session or token query, and a
    request that might be authenticated never reaches the shared cache.
    """
    return (
        "HTTP_AUTHORIZATION" not in request.META
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
    )


def error_response(
    request: HttpRequest, status: int, detail: str, **headers: str
) -> HttpResponse:
    """JSON ``{"detail": ...}`` for API clients, a one-line text page for browsers."""
    response: HttpResponse
    if is_api(request):
        response = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(
            f"{detail}\n", status=status, content_type="text/plain; charset=utf-8"
        )
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
