"""bench.loadtest: ``bench --url`` against a live server, loopback only."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.http import JsonResponse
from django.urls import include, path

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


def _throttled(request):
    return JsonResponse({"detail": "Request was throttled."}, status=429)


# A server that throttles everyone: the URLconf of the test below.
urlpatterns = [
    path("api/", include(([path("books/", _throttled, name="book-list")], "api")))
]


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


@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(__name__)
def test_a_429_stops_the_run_with_the_way_out(book_factory, live_server, run_bench):
    book_factory(1)

    with pytest.raises(CommandError) as error:
        run_bench("--url", live_server.url, "--duration", "5", "--no-timing")

    message = str(error.value)
    assert message.startswith("the server throttles (HTTP 429 on /api/books/)")
    assert "LOAD_TEST=true" in message  # api/bench.py's LOAD_TEST_HINT
