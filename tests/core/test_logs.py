"""core.logs: the rate-limited logger that keeps a cache outage to one line a minute."""

import logging

from django.conf import settings

from core.logs import RateLimitFilter


def test_rate_limit_filter_lets_one_record_through_per_interval():
    log_filter = RateLimitFilter(interval=60)
    records = [
        logging.LogRecord("x", logging.ERROR, "", 0, "down", None, None)
        for _ in range(50)
    ]
    assert sum(log_filter.filter(r) for r in records) == 1


def test_redis_errors_are_logged_through_the_rate_limited_logger():
    name = getattr(settings, "DJANGO_REDIS_LOGGER", None)
    if name is None:
        return  # local memory: django-redis is not configured, nothing to limit
    assert any(isinstance(f, RateLimitFilter) for f in logging.getLogger(name).filters)
