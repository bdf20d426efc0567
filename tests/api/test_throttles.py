"""Rate limits: a strict budget for the naive endpoints, none for internal traffic."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from api.throttles import AnonRateThrottle, UserRateThrottle
from core.http import INTERNAL_REQUEST
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

INTERNAL = {INTERNAL_REQUEST: True}


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates by scope (DRF reads them once, at import)."""

    def set_rates(**rates: str) -> None:
        for scope, rate in rates.items():
            monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)
            for throttle in (AnonRateThrottle, UserRateThrottle):
                if throttle.scope == scope:
                    monkeypatch.setattr(throttle, "rate", rate, raising=False)

    return set_rates


def test_the_naive_endpoints_have_a_strict_budget_of_their_own(settings, api_client):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert rates["naive"] == "60/min"
    assert rates["anon"] == "1000/min"


@pytest.mark.parametrize("path", ["/api/naive/books/", "/api/naive/authors/"])
def test_anonymous_clients_meet_the_naive_limit(api_client, rates, path):
    rates(naive="2/min")
    BookFactory()
    assert [api_client.get(path).status_code for _ in range(3)] == [200, 200, 429]
    response = api_client.get(path)
    assert response.json()["detail"].startswith("Request was throttled.")
    assert int(response["Retry-After"]) > 0
    # The tuned endpoints are not held to it.
    assert api_client.get("/api/books/").status_code == 200


def test_signed_in_users_meet_the_naive_limit_too(token_client, api_client, rates):
    rates(naive="2/min")
    BookFactory()
    statuses = [token_client.get("/api/naive/books/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Counted per user: an anonymous client from the same address has its own.
    assert api_client.get("/api/naive/books/").status_code == 200


def test_the_naive_budget_is_shared_by_the_naive_endpoints(api_client, rates):
    rates(naive="2/min")
    book = BookFactory()
    assert api_client.get("/api/naive/books/").status_code == 200
    assert api_client.get(f"/api/naive/books/{book.pk}/").status_code == 200
    assert api_client.get("/api/naive/authors/").status_code == 429


def test_rotating_x_forwarded_for_does_not_reset_the_limit(api_client, rates):
    """With no proxy configured (NUM_PROXIES=0) the address is REMOTE_ADDR."""
    rates(naive="2/min")
    statuses = [
        api_client.get(
            "/api/naive/authors/", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}"
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_internal_requests_are_never_throttled(api_client, token_client, rates):
    rates(naive="1/min", anon="1/min", user="1/min")
    BookFactory()
    for path in ("/api/naive/books/", "/api/books/", "/api/authors/"):
        statuses = {api_client.get(path, **INTERNAL).status_code for _ in range(5)}
        assert statuses == {200}, path
        statuses = {token_client.get(path, **INTERNAL).status_code for _ in range(5)}
        assert statuses == {200}, path
    # The same clients without the mark are still limited. (Anonymous cache hits are
    # answered by the front door before any throttle: an uncached path shows it.)
    assert api_client.get("/api/naive/authors/").status_code == 200
    assert api_client.get("/api/naive/authors/").status_code == 429
    assert token_client.get("/api/genres/").status_code == 200
    assert token_client.get("/api/genres/").status_code == 429


def test_an_http_header_cannot_claim_to_be_internal(api_client, rates):
    rates(anon="1/min")
    path = "/api/naive/authors/"  # never cached: every request meets the throttle
    assert api_client.get(path).status_code == 200
    forged = {"HTTP_BOOKSHELF.INTERNAL": "True", "HTTP_BOOKSHELF_INTERNAL": "True"}
    assert api_client.get(path, **forged).status_code == 429
    # A string, not the boolean the site itself sets, is not internal either.
    assert api_client.get(path, **{INTERNAL_REQUEST: "True"}).status_code == 429


def test_anonymous_cache_hits_are_not_throttled(api_client, rates):
    """A hit costs one cache read, less than a throttle check: the front door serves
    it before DRF. Misses, which reach the database, are throttled."""
    rates(anon="2/min")
    BookFactory()
    statuses = [api_client.get("/api/books/").status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert api_client.get("/api/books/", {"search": "a"}).status_code == 200
    assert api_client.get("/api/books/", {"search": "b"}).status_code == 429


def test_ladder_rungs_are_throttled_like_the_api(api_client, rates):
    rates(anon="1000/min", naive="1/min")
    BookFactory()
    assert api_client.get("/api/ladder/naive/books/").status_code == 200
    response = api_client.get("/api/ladder/naive/books/")
    assert response.status_code == 429 and "detail" in response.json()
    assert response["Retry-After"]
    assert api_client.get("/api/ladder/raw/books/").status_code == 200


def test_cache_warming_goes_unthrottled(rates, settings):
    from books.cache.warming import warm_hot_keys

    rates(anon="1/min")
    BookFactory()
    assert warm_hot_keys(("/api/books/", "/api/authors/", "/api/genres/")) == {
        "/api/books/": "MISS",
        "/api/authors/": "MISS",
        "/api/genres/": "MISS",
    }
    assert set(warm_hot_keys(("/api/books/", "/api/genres/")).values()) == {"HIT"}


def test_anonymous_clients_meet_the_anon_limit_and_users_the_user_limit(
    api_client, token_client, rates
):
    """One counter each: anonymous clients by address, users by account (anonymous
    cache hits are never throttled: each request here is a miss)."""
    rates(anon="2/min", user="3/min")
    BookFactory()
    paths = [f"/api/authors/?page_size={size}" for size in (1, 2, 3)]
    anonymous = [api_client.get(path).status_code for path in paths]
    signed_in = [token_client.get("/api/authors/").status_code for _ in range(4)]
    assert anonymous == [200, 200, 429]
    assert signed_in == [200, 200, 200, 429]


def test_an_anonymous_request_costs_one_counter(rf):
    """DRF's UserRateThrottle would count an anonymous client a second time."""
    from django.contrib.auth.models import AnonymousUser
    from rest_framework.request import Request

    request = Request(rf.get("/api/books/", REMOTE_ADDR="198.51.100.7"))
    request.user = AnonymousUser()
    assert UserRateThrottle().get_cache_key(request, None) is None
    assert AnonRateThrottle().get_cache_key(request, None) is not None
