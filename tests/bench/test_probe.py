"""bench.probe: the query recorder's call sites and the cache counter."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection

from bench.probe import CacheStats, count_cache, record_queries

pytestmark = pytest.mark.django_db


def _passthrough(execute, sql, params, many, context):
    """A project's own execute wrapper, installed before bench's (so it calls it)."""
    return execute(sql, params, many, context)


def test_the_call_site_is_the_caller_not_an_outer_execute_wrapper():
    with connection.execute_wrapper(_passthrough), record_queries() as queries:
        Permission.objects.count()

    [query] = queries
    assert query.site.startswith("tests/bench/test_probe.py:")
    this = test_the_call_site_is_the_caller_not_an_outer_execute_wrapper
    assert query.site.endswith(f"in {this.__name__}")


def test_cache_reads_and_hits_are_counted():
    cache.set("present", 1)
    stats = CacheStats()

    with count_cache(stats):
        cache.get("present")
        cache.get("absent")
        cache.get_or_set("made", 2)

    assert (stats.gets, stats.hits) == (3, 1)


def test_every_query_records_the_database_alias_that_ran_it():
    """Every configured connection is wrapped: a project with read replicas sees
    which database served each query (here only the default exists)."""
    with record_queries() as queries:
        Permission.objects.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    assert [query.alias for query in queries] == ["default", "default"]


def test_get_many_counts_each_key_once():
    cache.set("present", 1)
    stats = CacheStats()

    with count_cache(stats):
        cache.get_many(["present", "absent"])

    assert (stats.gets, stats.hits) == (2, 1)


def test_a_cold_request_counts_what_survived_the_clear_as_state_not_hits():
    """A published version is found even when cold: it is state, not an entry."""
    cache.set("gen:catalogue", 7)  # what a declared CLEAR_CACHE puts back
    cold = CacheStats(learn=True)

    with count_cache(cold):
        cache.get_many(["gen:catalogue", "resp:page"])
        cache.set("resp:page", "body")
        cache.get("resp:page")  # written by this request: an entry hit

    assert (cold.gets, cold.hits, cold.state_reads) == (2, 1, 1)
    warm = CacheStats(state=cold.state)
    with count_cache(warm):
        cache.get_many(["gen:catalogue", "resp:page"])
    assert (warm.gets, warm.hits, warm.state_reads) == (1, 1, 1)
