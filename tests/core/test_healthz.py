import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_cache_ok(client, settings):
    settings.REPLICA_DATABASES = []  # the replicas' section is tested below
    response = client.get("/healthz")
    assert response.status_code == 200
    expected_broker = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "ok"
    assert response.json() == {
        "database": "ok",
        "cache": "ok",
        "broker": expected_broker,
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_broker_outage_is_reported_but_not_fatal(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from config.celery import app

    # A closed loopback port: the broker is down, the web stays up.
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 200
    assert response.json()["broker"] == "down"


def test_without_replicas_there_is_no_replica_section(client, settings):
    settings.REPLICA_DATABASES = []
    assert "replicas" not in client.get("/healthz").json()


def test_a_down_replica_is_reported_but_never_fails_the_check(client, settings):
    """The test database stands in for a replica. It is no standby, so it is "down"
    (``test_replicas_live.py`` has the real ones, ok and lagging); the primary serves
    the reads, so the check stays 200."""
    from core.db.replicas import monitor

    settings.REPLICA_DATABASES = ["default"]
    try:
        response = client.get("/healthz")
    finally:
        monitor.reset()
    assert response.status_code == 200
    found = response.json()
    assert found["database"] == "ok"
    assert found["replicas"]["default"]["state"] == "down"
    assert found["replicas"]["default"]["lag_seconds"] is None
    assert found["replicas"]["default"]["error"]
