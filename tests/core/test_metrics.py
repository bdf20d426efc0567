"""core.metrics: Prometheus metrics by view, and who may read GET /metrics."""

import http.client

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from prometheus_client import REGISTRY

from core import metrics
from tests import faults
from tests.conftest import make_books

pytestmark = pytest.mark.django_db

NAMES = (
    "django_http_request_duration_seconds_bucket",
    "django_db_queries_per_request_bucket",
    "django_cache_responses_total",
)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def scraper(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "10.0.0.0/8"]


def test_an_allowed_address_reads_prometheus_text(client, scraper):
    make_books(2)
    client.get("/api/books/")
    client.get("/api/books/")  # a cache hit

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    for name in NAMES:
        assert name in text
    assert 'view="api:book-list"' in text
    assert "no-store" in response["Cache-Control"]


def test_an_allowed_network_reads_it_too(client, scraper):
    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200


def test_production_hides_it_from_everyone_else(client, settings):
    assert settings.DEBUG is False and settings.METRICS_ALLOWED_IPS == []
    unknown = client.get("/no-such-page")

    response = client.get("/metrics")

    assert response.status_code == 404
    assert response.content == unknown.content  # nothing says the page exists


def test_a_request_relayed_by_a_proxy_is_never_let_in_by_address(client, scraper):
    relayed = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert relayed.status_code == 404


def test_staff_may_read_it_and_other_users_may_not(client):
    user = get_user_model().objects.create_user("reader")
    client.force_login(user)
    assert client.get("/metrics").status_code == 404

    user.is_staff = True
    user.save()
    assert client.get("/metrics").status_code == 200


def test_latency_queries_and_cache_results_are_counted_by_view(client):
    make_books(3)
    view = {"view": "api:book-list"}
    before = {
        "requests": _sample(
            "django_http_request_duration_seconds_count",
            method="GET",
            status="2xx",
            **view,
        ),
        "queries": _sample("django_db_queries_per_request_sum", **view),
        "misses": _sample("django_cache_responses_total", result="miss", **view),
        "hits": _sample("django_cache_responses_total", result="hit", **view),
        "not found": _sample(
            "django_http_request_duration_seconds_count",
            method="GET",
            status="4xx",
            view=metrics.UNMATCHED,
        ),
    }

    client.get("/api/books/")  # a miss: 2 queries
    client.get("/api/books/")  # a hit: none
    client.get("/no/such/page/")

    assert (
        _sample(
            "django_http_request_duration_seconds_count",
            method="GET",
            status="2xx",
            **view,
        )
        == before["requests"] + 2
    )
    assert _sample("django_db_queries_per_request_sum", **view) == (
        before["queries"] + 2
    )
    assert _sample("django_cache_responses_total", result="miss", **view) == (
        before["misses"] + 1
    )
    assert _sample("django_cache_responses_total", result="hit", **view) == (
        before["hits"] + 1
    )
    assert (
        _sample(
            "django_http_request_duration_seconds_count",
            method="GET",
            status="4xx",
            view=metrics.UNMATCHED,
        )
        == before["not found"] + 1
    )


def test_postgresql_pool_statistics_are_gauges_and_counters(postgres, client, scraper):
    if not (connection.settings_dict.get("OPTIONS") or {}).get("pool"):
        pytest.skip("the test database runs without a pool")
    client.get("/api/genres/")

    text = client.get("/metrics").content.decode()

    for name in (
        "django_db_pool_size",
        "django_db_pool_available",
        "django_db_pool_requests_waiting",
        "django_db_pool_requests_total",
        "django_db_pool_wait_seconds_total",
    ):
        assert f'{name}{{alias="default"}}' in text, name


# --- Several gunicorn workers: PROMETHEUS_MULTIPROC_DIR -------------------------------


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def test_several_workers_report_one_sum(tmp_path):
    """Two gunicorn workers, a stale file from an earlier run in the directory: the
    scrape counts every request whichever worker served it, and nothing stale."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")
    port = faults.free_port()
    env = {
        **faults.child_environ(keep_pytest=False),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "metrics-test-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",  # no query runs
        "REDIS_URL": "",
        "METRICS_ALLOWED_IPS": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESSLOG": "/dev/null",
    }
    server = faults.Gunicorn(tmp_path, port, env, workers=2, threads=2)
    server.start()
    try:
        for _ in range(20):  # a new connection each: both workers answer some
            assert _get(port, "/api/ladder/ceiling/")[0] == 200
        status, text = _get(port, "/metrics")
        files = {path.name.split("_")[-1] for path in metrics_dir.iterdir()}
    finally:
        server.stop()

    assert status == 200
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("django_http_request_duration_seconds_count")
        and 'view="api:ladder-ceiling"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) == 20.0
    assert "999999.db" not in files  # emptied at start
