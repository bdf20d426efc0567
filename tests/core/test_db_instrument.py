"""core.db.instrument: every connection counts its queries and logs the slow ones."""

import json
import logging

import pytest
from django.db import connection

from core.db.instrument import (
    fingerprint,
    instrument,
    tally_queries,
    watch_connection,
)
from core.logs import JsonFormatter
from tests.conftest import make_books

pytestmark = pytest.mark.django_db


def test_every_connection_carries_the_wrapper():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.execute_wrappers.count(instrument) == 1


def test_a_scope_counts_its_statements():
    with tally_queries() as tally, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT 2")
    assert tally.count == 2 and tally.seconds > 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT * FROM t WHERE name = 'O''Brien' AND id = 42",
            "SELECT * FROM t WHERE name = ? AND id = ?",
        ),
        ('SELECT "t"."a1" FROM "t" WHERE "t"."id" IN (%s, %s, %s)', None),
        (
            "UPDATE b SET p = v.p FROM (VALUES (%s::bigint, %s::numeric), (%s, %s)) "
            "AS v(id, p)",
            "UPDATE b SET p = v.p FROM (VALUES (...)) AS v(id, p)",
        ),
        (
            "SELECT a\n  FROM t\n WHERE x = ?  LIMIT 21",
            "SELECT a FROM t WHERE x = ? LIMIT ?",
        ),
    ],
)
def test_fingerprints_strip_literals_and_lists(sql, expected):
    if expected is None:
        expected = 'SELECT "t"."a1" FROM "t" WHERE "t"."id" IN (...)'
    assert fingerprint(sql) == expected


def test_slow_queries_are_logged_with_view_request_id_and_fingerprint(
    settings, caplog, client
):
    make_books(2)
    settings.SLOW_QUERY_MS = 0  # every statement is "slow"
    with caplog.at_level(logging.WARNING, logger="core.db.slow"):
        response = client.get("/api/books/", {"published_after": "1999-12-31"})

    records = [r for r in caplog.records if r.name == "core.db.slow"]
    assert len(records) == 2  # the page and its genres
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["logger"] == "core.db.slow"
    assert line["view"] == "api:book-list"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["database"] == "default" and line["duration_ms"] >= 0
    assert "FROM" in line["fingerprint"]
    assert "1999" not in json.dumps(line)  # parameters are never logged


def test_fast_queries_are_not_logged(settings, caplog, client):
    settings.SLOW_QUERY_MS = 10_000
    make_books(2)
    with caplog.at_level(logging.WARNING, logger="core.db.slow"):
        client.get("/api/books/")
    assert not [r for r in caplog.records if r.name == "core.db.slow"]


def test_a_negative_threshold_turns_the_log_off(settings, caplog):
    settings.SLOW_QUERY_MS = -1
    with (
        caplog.at_level(logging.WARNING, logger="core.db.slow"),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT 1")
    assert not caplog.records


def test_a_connection_made_inside_a_wrapper_block_leaves_that_block_intact():
    """A pooled connection is created again mid-request, inside Server-Timing's
    ``execute_wrapper()`` block, which pops the last wrapper when it ends."""

    def timer(execute, sql, params, many, context):
        return execute(sql, params, many, context)

    connection.execute_wrappers.remove(instrument)
    with connection.execute_wrapper(timer):
        watch_connection(connection)  # what connection_created does
    assert timer not in connection.execute_wrappers
    assert connection.execute_wrappers.count(instrument) == 1
