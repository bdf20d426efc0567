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
