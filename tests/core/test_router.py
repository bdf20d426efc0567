"""core.db.router: which alias a read goes to, given what the monitor last saw.

The replicas here are observations (``ReplicaState``) recorded on the process's
monitor, as its thread would record them; no query runs unless a test asks for the
database. The real servers are in ``test_replicas_live.py``.
"""

import time

import pytest
from django.db import transaction

from books.models import Book
from core.db import routing
from core.db.breaker import breaker_for
from core.db.replicas import DOWN, OK, ReplicaState, monitor
from core.db.router import ReplicaRouter

router = ReplicaRouter()


@pytest.fixture(autouse=True)
def replicas(settings):
    """Two replicas, both seen caught up a moment ago at catalogue version 7."""
    settings.REPLICA_DATABASES = ["replica1", "replica2"]
    settings.REPLICA_MAX_LAG_SECONDS = 1.0
    for alias in settings.REPLICA_DATABASES:
        see(alias)
    yield
    monitor.reset()


def see(alias: str, *, state: str = OK, lag: float = 0.0, version: int = 7) -> None:
    now = time.monotonic()
    monitor.record(ReplicaState(alias, state, now, now - lag, version))


def read() -> str:
    return router.db_for_read(Book)


def test_outside_a_request_every_read_goes_to_the_primary():
    assert routing.current() is None
    assert read() == "default"


def test_reads_take_turns_across_healthy_replicas():
    chosen = set()
    for _ in range(4):
        with routing.read_scope():
            chosen.add(read())
    assert chosen == {"replica1", "replica2"}


def test_a_request_stays_on_the_replica_it_started_on():
    with routing.read_scope():
        first = read()
        assert {read() for _ in range(5)} == {first}


def test_writes_and_pinned_requests_use_the_primary():
    with routing.read_scope(primary=True):
        assert read() == "default"
    with routing.read_scope():
        assert router.db_for_write(Book) == "default"


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_on_the_primary_stay_there():
    with routing.read_scope():
        with transaction.atomic():
            assert read() == "default"
        assert read() != "default"


def test_a_replica_that_may_miss_writes_older_than_the_bound_is_skipped():
    see("replica1", lag=1.5)
    with routing.read_scope():
        assert read() == "replica2"
    see("replica2", lag=1.01)
    with routing.read_scope():
        assert read() == "default"


def test_the_bound_counts_the_age_of_the_observation():
    """Seen caught up 1.2 s ago: it may have stalled right after, so it is out."""
    monitor.reset()
    now = time.monotonic()
    for alias in ("replica1", "replica2"):
        monitor.record(ReplicaState(alias, OK, now - 1.2, now - 1.2, 7))
    with routing.read_scope():
        assert read() == "default"


def test_a_cache_fill_needs_a_replica_that_replayed_its_generation():
    see("replica1", version=8)
    with routing.read_scope():
        routing.require_version(8)
        assert read() == "replica1"
    with routing.read_scope():
        routing.require_version(9)
        assert read() == "default"


def test_a_down_replica_or_an_open_breaker_is_skipped():
    see("replica1", state=DOWN)
    breaker = breaker_for("replica2")
    breaker.failed()
    try:
        with routing.read_scope():
            assert read() == "default"
    finally:
        breaker.succeeded()


def test_a_replica_that_stops_qualifying_mid_request_hands_over_to_the_primary():
    see("replica2", state=DOWN)
    with routing.read_scope():
        assert read() == "replica1"
        routing.require_version(8)  # about to fill a cache entry it has not replayed
        see("replica2", version=8)  # another replica has it, but may be behind us
        assert read() == "default"
        assert read() == "default"  # never back in time within one response


def test_migrations_run_on_the_primary_only_and_relations_span_aliases():
    assert router.allow_migrate("default", "books")
    assert not router.allow_migrate("replica1", "books")
    assert router.allow_relation(Book(), Book())
