"""core.http: the client address every limit keys on."""

import pytest
from rest_framework.throttling import AnonRateThrottle

from core.http import client_ip

FORGED_THEN_REAL = (
    "203.0.113.66, 198.51.100.7"  # client forged one, our proxy added one
)


@pytest.mark.parametrize(
    ("num_proxies", "forwarded", "expected"),
    [
        (0, FORGED_THEN_REAL, "10.0.0.9"),  # no proxy: the header is ignored
        (0, None, "10.0.0.9"),
        (1, FORGED_THEN_REAL, "198.51.100.7"),  # the hop our proxy appended
        (2, FORGED_THEN_REAL, "203.0.113.66"),
        (3, FORGED_THEN_REAL, "203.0.113.66"),  # fewer hops than proxies: the first
        (1, None, "10.0.0.9"),
        (1, "not-an-address", "10.0.0.9"),  # never an arbitrary identity
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_follows_num_proxies(rf, settings, num_proxies, forwarded, expected):
    settings.NUM_PROXIES = num_proxies
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", **extra)
    assert client_ip(request) == expected


@pytest.mark.parametrize("num_proxies", [0, 1, 2])
def test_client_ip_agrees_with_the_api_throttles(rf, settings, num_proxies):
    settings.NUM_PROXIES = num_proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    request = rf.get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=FORGED_THEN_REAL)
    assert client_ip(request) == AnonRateThrottle().get_ident(request)


def test_settings_share_one_num_proxies(settings):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.NUM_PROXIES == 0
