"""bench.loadtest: ``bench --url`` against a live server, loopback only."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(TEST_URLS)
def test_url_mode_measures_a_live_server(
    book_factory, live_server, tmp_path, run_bench
):
    book_factory(3)
    path = tmp_path / "bench.json"

    out = run_bench(
        "--url",
        live_server.url,
        "--duration",
        "0.3",
        "--concurrency",
        "1",
        "--scenario",
        "api.books.list",
        "--no-timing",
        "--json",
        str(path),
    )

    http = json.loads(path.read_text())["http"]
    assert {(r["name"], r["variant"]) for r in http["scenarios"]} == {
        ("api.books.list", "tuned"),
        ("api.books.list", "naive"),
    }
    assert all(r["requests"] > 0 and r["errors"] == 0 for r in http["scenarios"])
    assert "over HTTP" in out


def test_url_mode_refuses_a_non_loopback_host():
    with pytest.raises(CommandError, match="loopback"):
        call_command("bench", "--url", "http://192.0.2.1:8000", stdout=StringIO())
