"""core.views: the favicon redirect and the DEBUG-only bench report."""

import pytest
from django.templatetags.static import static

pytestmark = pytest.mark.django_db


def test_favicon_ico_redirects_to_the_static_file(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == static("favicon.ico")
    assert "max-age=86400" in response["Cache-Control"]


def test_pages_link_both_icons(client, book_factory):
    book_factory(1)

    html = client.get("/").content.decode()

    assert f'href="{static("favicon.svg")}" type="image/svg+xml"' in html
    assert f'href="{static("favicon.ico")}"' in html


def test_the_bench_report_is_not_served_without_debug(client, settings, tmp_path):
    settings.BENCH_REPORT = tmp_path / "bench-report.html"
    settings.BENCH_REPORT.write_text("<h1>bench</h1>")

    assert client.get("/bench/").status_code == 404


def test_under_debug_the_bench_report_is_served(client, debug, tmp_path):
    debug.BENCH_REPORT = tmp_path / "bench-report.html"
    debug.BENCH_REPORT.write_text("<h1>bench</h1>")

    response = client.get("/bench/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"".join(response.streaming_content) == b"<h1>bench</h1>"
    assert "no-cache" in response["Cache-Control"]


def test_under_debug_a_missing_report_says_how_to_make_it(client, debug, tmp_path):
    debug.BENCH_REPORT = tmp_path / "none.html"

    response = client.get("/bench/")

    assert response.status_code == 404 and b"make bench" in response.content
