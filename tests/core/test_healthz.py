import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_cache_ok(client):
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
