"""bench in a project that is not this one: only the sample app and Django's own.

INSTALLED_APPS holds contenttypes, auth, bench and tests.sampleapp, the middleware is
Django's CommonMiddleware alone and the URLconf is the sample app's: no books, no api,
no declarations but tests/sampleapp/bench.py.
"""

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

pytestmark = pytest.mark.django_db

SAMPLE_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "bench",
    "tests.sampleapp",
]


@pytest.fixture
def sample_project(settings):
    settings.INSTALLED_APPS = SAMPLE_APPS
    settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]


@pytest.mark.urls("tests.sampleapp.urls")
def test_bench_finds_the_sample_apps_n_plus_one_and_names_the_fix(
    sample_project, tmp_path, run_bench
):
    path, page = tmp_path / "bench.json", tmp_path / "bench.html"

    out = run_bench("--no-timing", "--json", str(path), "--html", str(page))

    doc = json.loads(path.read_text())
    assert doc["dataset"] == {
        "permissions": Permission.objects.count(),
        "database": connection.vendor,
    }
    rows = {(r["name"], r["variant"], r["cache"]): r for r in doc["scenarios"]}
    assert {name for name, _, _ in rows} == {
        "sample.permissions.list",
        "sample.permissions.list.first5",
        "sample.permissions.detail",
    }
    naive = rows[("sample.permissions.list", "naive", "cold")]
    [site] = naive["n_plus_one"]
    assert site["count"] == 20
    assert site["table"] == "django_content_type"
    assert site["site"].startswith("tests/sampleapp/urls.py:")
    assert site["hint"] == "select_related('content_type')"
    assert "select_related('content_type')" in out
    tuned = rows[("sample.permissions.list", "tuned", "cold")]
    assert (tuned["queries"], tuned["duplicate_queries"], tuned["n_plus_one"]) == (
        1,
        0,
        [],
    )
    detail = rows[("sample.permissions.detail", "tuned", "cold")]
    assert detail["status"] == 200 and detail["path"].startswith("/sample/permissions/")
    assert "sample.permissions.list" in page.read_text()
