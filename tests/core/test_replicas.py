"""core.db.replicas: how fresh a replica is, and what marks it down.

``fresh_as_of`` is the whole lag rule, so its cases are spelled out: an idle primary
(the replay timestamp alone would call a caught-up replica hours behind), a steady
stream of writes, a replica that stalls after an idle spell.
"""

import time

import pytest
from django.db import OperationalError

from core.db import routing
from core.db.replicas import (
    DOWN,
    LAGGING,
    OK,
    Monitor,
    ReplicaState,
    fresh_as_of,
    monitor,
    parse_lsn,
    replica_failed,
)


def test_wal_positions_compare_as_numbers():
    assert parse_lsn("0/16B3748") < parse_lsn("0/A000000") < parse_lsn("1/0")
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848


def test_an_idle_primary_does_not_make_a_caught_up_replica_look_behind():
    """Last commit an hour ago, but it has replayed where the primary is now."""
    history = [(100.0, 500), (100.5, 500)]
    fresh = fresh_as_of(history, 500, replay_age=3600.0, observed=100.6, previous=None)
    assert fresh == 100.5


def test_under_steady_writes_the_last_replayed_commit_dates_it():
    """Behind the newest sample, but it replayed a commit made 0.2 s ago."""
    history = [(100.0, 400), (100.5, 500)]
    fresh = fresh_as_of(history, 450, replay_age=0.2, observed=100.6, previous=None)
    assert fresh == pytest.approx(100.4)


def test_a_replica_that_stalls_after_an_idle_spell_ages_from_the_last_sample():
    """Replay stopped at 500 and the primary moved on at 101: it is fresh as of the
    last time the primary was still at 500, and older with every second after."""
    history = [(100.0, 500), (100.5, 500), (101.0, 900), (101.5, 900)]
    fresh = fresh_as_of(history, 500, replay_age=3600.0, observed=102.0, previous=None)
    assert fresh == 100.5


def test_samples_from_several_checking_threads_need_not_arrive_in_order():
    history = [(100.5, 500), (100.0, 400), (101.0, 900)]
    fresh = fresh_as_of(history, 600, replay_age=None, observed=101.2, previous=None)
    assert fresh == 100.5


def test_freshness_never_goes_back_while_the_replica_stays_up():
    fresh = fresh_as_of([], 500, replay_age=None, observed=200.0, previous=150.0)
    assert fresh == 150.0
    assert fresh_as_of([], 500, replay_age=None, observed=200.0, previous=None) is None


def test_lag_is_reported_as_observed_and_served_within_the_bound(settings):
    settings.REPLICA_DATABASES = ["replica1"]
    settings.REPLICA_MAX_LAG_SECONDS = 1.0
    watcher = Monitor()
    now = time.monotonic()
    watcher.record(ReplicaState("replica1", OK, now, now - 0.25, 3))
    assert watcher.state("replica1").as_json() == {
        "state": OK,
        "lag_seconds": 0.25,
        "version": 3,
    }
    assert watcher.serves("replica1", 3) and not watcher.serves("replica1", 4)
    watcher.record(ReplicaState("replica1", LAGGING, now, now - 1.5, 3))
    assert not watcher.serves("replica1")


def test_a_failure_under_a_request_marks_the_replica_down_and_the_scope_failed(
    settings,
):
    settings.REPLICA_DATABASES = ["replica1"]
    now = time.monotonic()
    monitor.record(ReplicaState("replica1", OK, now, now, 1))
    try:
        with routing.read_scope() as scope:
            replica_failed("replica1", OperationalError("connection refused\nmore"))
            replica_failed("default", OperationalError("not a replica: ignored"))
        assert scope.failed == {"replica1"}
        state = monitor.state("replica1")
        assert state.state == DOWN and not monitor.serves("replica1")
        assert state.as_json()["error"] == "OperationalError: connection refused"
    finally:
        monitor.reset()


@pytest.mark.django_db
def test_a_server_that_is_not_a_standby_is_reported_down(settings):
    """The real check against the test database, which is no replica: PostgreSQL
    answers "not in recovery"; SQLite has no such functions at all. Either way the
    alias is down, with a reason, and no exception escapes the check."""
    watcher = Monitor(["default"], max_lag=1.0, interval=0)
    state = watcher.check()["default"]
    assert state.state == DOWN and state.error
    assert not watcher.serves("default")


def test_an_older_observation_never_replaces_a_newer_one(settings):
    """A check that found the replica healthy, finishing after a request saw it fail,
    must not put it back in the rotation."""
    settings.REPLICA_DATABASES = ["replica1"]
    watcher = Monitor()
    healthy_at = time.monotonic()
    watcher.mark_down("replica1", "OperationalError: server closed the connection")
    watcher.record(ReplicaState("replica1", OK, healthy_at, healthy_at, 1))
    assert watcher.state("replica1").state == DOWN
    later = time.monotonic()
    watcher.record(ReplicaState("replica1", OK, later, later, 1))
    assert watcher.state("replica1").state == OK
