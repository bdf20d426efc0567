"""core.db: the connect breaker behind fast 503s with the database down."""

import time

import pytest
from django.db import OperationalError, connections

from core.db.breaker import Breaker


def test_a_failure_opens_the_breaker_then_one_probe_goes_through():
    breaker = Breaker(seconds=0.05)
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()
    time.sleep(0.06)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for the probe's result
    breaker.succeeded()
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_it_again():
    breaker = Breaker(seconds=0.05)
    breaker.failed()
    time.sleep(0.06)
    assert breaker.allow()
    breaker.failed()
    assert not breaker.allow()


@pytest.mark.django_db
def test_an_unreachable_postgres_fails_fast_after_the_first_try(postgres):
    """A real refused connect opens the breaker; later tries never reach the network."""
    from core.db.postgresql.base import DatabaseWrapper

    settings_dict = dict(connections["default"].settings_dict)
    settings_dict.update(HOST="127.0.0.1", PORT=1, OPTIONS={"connect_timeout": 1})
    probe = DatabaseWrapper(settings_dict, alias="breaker_probe")
    with pytest.raises(OperationalError) as first:
        probe.ensure_connection()
    assert "breaker open" not in str(first.value)  # a real attempt, refused
    for _ in range(100):
        with pytest.raises(OperationalError, match="breaker open"):
            probe.ensure_connection()
