"""Celery tasks: set-based, idempotent, sent after commit, safe with the broker down."""

import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from books.cache.keys import catalogue_stats_key
from books.tasks import (
    catalogue_stats,
    refresh_catalogue_stats,
    schedule_cache_warm,
)
from config.celery import app
from core.logs import request_id_var
from tests.factories import BookFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broker_down():
    """Point the Celery app at a closed loopback port, as if the broker were down."""
    saved = (
        app.conf.broker_url,
        app.conf.task_always_eager,
        app._pool,
        app.amqp._producer_pool,
    )
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.task_always_eager = False
    # Producer pools are cached per URL; make the app look them up for the dead one.
    app._pool = app.amqp._producer_pool = None
    yield
    (
        app.conf.broker_url,
        app.conf.task_always_eager,
        app._pool,
        app.amqp._producer_pool,
    ) = saved


@pytest.mark.django_db
def test_refresh_catalogue_stats_aggregates_and_caches(book_factory):
    book_factory(3, reviews_per_book=2)

    stats = refresh_catalogue_stats()

    assert stats["books"] == 3 and stats["authors"] == 2 and stats["reviews"] == 6
    assert 1 <= stats["average_rating"] <= 5
    assert cache.get(catalogue_stats_key()) == stats


@pytest.mark.django_db
def test_refresh_catalogue_stats_is_idempotent(book_factory, django_assert_num_queries):
    book_factory(2)
    first = refresh_catalogue_stats()
    with django_assert_num_queries(2):  # one aggregate per table, whatever the size
        second = refresh_catalogue_stats()
    assert {k: v for k, v in first.items() if k != "computed_at"} == {
        k: v for k, v in second.items() if k != "computed_at"
    }


@pytest.mark.django_db
def test_catalogue_stats_reads_the_cache(book_factory, django_assert_num_queries):
    book_factory(1)
    refresh_catalogue_stats()
    with django_assert_num_queries(0):
        assert catalogue_stats()["books"] == 1


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back(
    django_capture_on_commit_callbacks,
):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        refresh_catalogue_stats.delay_on_commit()
        raise RuntimeError("rolled back")
    assert callbacks == []


@pytest.mark.django_db
def test_broker_down_at_enqueue_keeps_the_write_and_logs(
    broker_down, django_capture_on_commit_callbacks, caplog
):
    with (
        caplog.at_level(logging.ERROR, logger="books.tasks"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        transaction.atomic(),
    ):
        book = BookFactory()
        refresh_catalogue_stats.delay_on_commit()

    # Sent only after commit, and the failed send did not raise out of the callback.
    assert any("_send_or_log" in repr(callback) for callback in callbacks)
    assert any("could not enqueue" in r.getMessage() for r in caplog.records)
    assert type(book).objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
def test_cache_warm_is_not_scheduled_when_tasks_run_eagerly(
    settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks() as callbacks:
        schedule_cache_warm()
    assert callbacks == []


@pytest.mark.django_db
def test_a_burst_of_committed_writes_queues_one_cache_warm(
    settings, broker_down, caplog, django_capture_on_commit_callbacks
):
    # With the broker down, each send attempt is logged: the log counts the sends.
    settings.CACHE_WARM_AFTER_WRITES = True
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with (
        caplog.at_level(logging.ERROR, logger="books.tasks"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        BookFactory.create_batch(3)
    sends = [r for r in caplog.records if "could not enqueue" in r.getMessage()]
    assert [r.args for r in sends] == [("books.tasks.warm_hot_cache",)]


@pytest.mark.django_db
def test_writes_queue_no_cache_warm_when_disabled(
    settings, broker_down, caplog, django_capture_on_commit_callbacks
):
    settings.CACHE_WARM_AFTER_WRITES = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with (
        caplog.at_level(logging.ERROR, logger="books.tasks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        BookFactory()
    assert not [r for r in caplog.records if "could not enqueue" in r.getMessage()]


def test_tasks_retry_transient_errors_with_backoff_and_ack_late():
    for task in (refresh_catalogue_stats, app.tasks["books.tasks.warm_hot_cache"]):
        assert task.acks_late is True
        assert task.retry_backoff and task.retry_jitter and task.max_retries == 5
        assert any("OperationalError" in e.__name__ for e in task.autoretry_for)


def test_beat_schedules_the_stats_refresh():
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-catalogue-stats"]
    assert entry["task"] == "books.tasks.refresh_catalogue_stats"
    assert entry["task"] in app.tasks


# --- A real worker: PostgreSQL + Redis pass only ------------------------------------


def _database_url() -> str:
    """The database this test is connected to, asked of the server itself."""
    s = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


@pytest.fixture
def celery_worker(transactional_db):
    """A real ``celery worker`` subprocess on a private queue, against the test DB."""
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip(
            "needs a real broker and a database a second process can open: run with "
            "DATABASE_URL=postgres://... REDIS_URL=redis://..."
        )
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),  # pytest-django's test_<name> database
        "DEBUG": "false",
        "LOG_FORMAT": "plain",
    }
    env.pop("CELERY_BROKER_URL", None)
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-c",
            "1",
            "-Q",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []

    def stop() -> str:
        if not output:
            worker.terminate()
            try:
                output.append(worker.communicate(timeout=20)[0])
            except subprocess.TimeoutExpired:
                worker.kill()
                output.append(worker.communicate()[0])
        return output[0]

    yield queue, stop
    from django_redis import get_redis_connection

    raw = get_redis_connection("default")  # the broker is REDIS_URL here
    raw.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    sys.stdout.write(stop()[-4000:])  # shown by pytest only when the test fails


def test_a_real_worker_runs_a_task_enqueued_after_commit(celery_worker):
    queue, stop_worker = celery_worker
    token = request_id_var.set("drill-request-0042")
    try:
        with transaction.atomic():
            BookFactory.create_batch(3)
            refresh_catalogue_stats.apply_async_on_commit(queue=queue)
            assert cache.get(catalogue_stats_key()) is None  # not sent before commit
    finally:
        request_id_var.reset(token)

    deadline = time.monotonic() + 60
    while (stats := cache.get(catalogue_stats_key())) is None:
        assert time.monotonic() < deadline, "the worker never ran the task"
        time.sleep(0.2)
    assert stats["books"] == 3  # the worker saw the committed rows
    # The task's log lines carry the id of the request that enqueued it.
    assert "[drill-request-0042] catalogue stats refreshed" in stop_worker()
