"""bench --html: the run's conditions, human headers, the ladder, N+1 groups, and a
page that reads on a phone."""

import re

import pytest

from bench.html_report import bar_chart, context, line_chart, nice_ticks, write_html


def _row(name: str, variant: str, cache: str = "cold", **extra) -> dict:
    return {
        "name": name,
        "variant": variant,
        "cache": cache,
        "status": 200,
        "queries": 2 if variant == "tuned" else 21,
        "duplicate_queries": 0 if variant == "tuned" else 19,
        "similar_queries": 0 if variant == "tuned" else 20,
        "exact_duplicates": 0,
        "db_ms": 0.4,
        "p50_ms": 2.0 if variant == "tuned" else 10.0,
        "p95_ms": 2.5 if variant == "tuned" else 12.0,
        "p99_ms": 2.6 if variant == "tuned" else 12.5,
        "bytes": 8192,
        "gzip_bytes": 2048,
        "cache_gets": 1,
        "cache_hits": 0,
        "group": name.rsplit(".", 1)[0] if name.startswith("ladder.") else name,
        "n_plus_one": [],
        **extra,
    }


SITE = {
    "fingerprint": 'SELECT ... FROM "books_author" WHERE "id" = ?',
    "summary": 'SELECT ... FROM "books_author" WHERE "id" = ?',
    "count": 20,
    "table": "books_author",
    "site": "NaiveBookSerializer.author (api/naive.py:55)",
    "template": None,
    "hint": "select_related('author')",
}


def _doc(debug: bool = False) -> dict:
    naive = _row("api.books.list", "naive", n_plus_one=[SITE])
    return {
        "dataset": {"books": 300, "authors": 37, "reviews": 1568, "database": "sqlite"},
        "meta": {
            "generated": "2026-11-23T18:00:00+00:00",
            "commit": "abc1234567",
            "debug": debug,
            "database_version": "3.40.1",
            "cache": "LocMemCache",
            "python": "3.11.7",
            "django": "5.2.19",
            "repeat": 5,
        },
        "scenarios": [
            _row("api.books.list", "tuned"),
            naive,
            _row(
                "api.books.list.page100", "naive", n_plus_one=[{**SITE, "count": 100}]
            ),
            *(
                _row(f"ladder.books.{rung}", "tuned", p50_ms=p50, queries=queries)
                for rung, p50, queries in (
                    ("naive", 60.0, 79),
                    ("eager", 20.0, 4),
                    ("raw", 5.0, 1),
                )
            ),
        ],
        "breaches": [],
    }


@pytest.fixture
def page(tmp_path):
    def render(doc: dict) -> str:
        path = tmp_path / "bench.html"
        write_html(str(path), doc)
        return path.read_text()

    return render


def test_the_run_s_conditions_head_the_page(page):
    html = page(_doc())

    for text in ("abc1234567", "sqlite 3.40.1", "3.11.7", "5.2.19", "1,568 reviews"):
        assert text in html
    assert "2026-11-23 18:00:00" in html
    assert "Made with DEBUG on" not in html


def test_a_report_made_under_debug_says_so_first(page):
    html = page(_doc(debug=True))

    banner = html.index("Made with DEBUG on")
    assert banner < html.index('id="results"')
    assert 'class="debug" role="alert"' in html


def test_headers_are_words_and_a_speed_up_column_divides_naive_by_tuned(page):
    html = page(_doc())

    headers = re.findall(r"<th[^>]*>(.*?)</th>", html)
    assert headers and not [h for h in headers if re.search(r"\w_\w", h)]
    assert "Speed-up (naive p50 / tuned p50)" in headers
    row = context(_doc())["rows"][0]
    assert (row["name"], row["speedup"]) == ("api.books.list", "5.0×")  # 10 / 2


def test_the_ladder_is_a_table_in_rung_order(page):
    [ladder] = context(_doc())["ladders"]

    assert ladder["name"] == "books"
    assert [r[0] for r in ladder["rows"]] == ["naive", "eager", "raw"]
    assert [r[6] for r in ladder["rows"]] == ["-", "3.0×", "12.0×"]  # vs the first
    assert [r[7] for r in ladder["rows"]] == ["-", "3.0×", "4.0×"]  # vs the previous
    assert 'id="ladder-books"' in page(_doc())


def test_no_ladder_section_without_ladder_scenarios(page):
    doc = _doc()
    doc["scenarios"] = [
        r for r in doc["scenarios"] if not r["name"].startswith("ladder")
    ]

    assert "Optimisation ladder" not in page(doc)


def test_n_plus_one_sites_are_grouped_as_the_terminal_groups_them(page):
    [group] = context(_doc())["sites"]

    assert group.names == ["api.books.list", "api.books.list.page100"]
    assert group.times == "20-100x"
    assert page(_doc()).count("select_related(&#x27;author&#x27;)") == 1


def test_the_page_reads_on_a_phone(page):
    html = page(_doc())

    assert '<meta name="viewport" content="width=device-width' in html
    assert "svg{display:block;width:100%;height:auto" in html
    assert all("viewBox=" in svg for svg in re.findall(r"<svg[^>]*>", html))
    assert not re.search(r"<svg[^>]*\swidth=", html)  # no fixed pixel width
    tables = html.count("<table")
    assert tables and html.count('<div class="scroll"><table') == tables
    assert "@media (max-width:600px)" in html


def test_charts_have_axes_with_units():
    chart = bar_chart(
        "p50", "p50 latency, ms (log scale)", [("a", 2.0, 150.0)], log=True
    )
    assert [t.label for t in chart.ticks] == ["0", "10", "100"]
    assert chart.unit == "p50 latency, ms (log scale)"

    lines = line_chart(
        "growth", "SQL queries", "data size", {"a naive": [(10, 3), (100, 30)]}
    )
    assert [t.label for t in lines.x_ticks] == ["10", "100"]
    assert [label for _, label in lines.y_ticks] == ["0", "10", "20", "30"]
    assert (lines.x_unit, lines.y_unit) == ("data size", "SQL queries")


def test_nice_ticks_are_round():
    assert nice_ticks(79) == [0, 20, 40, 60]
    assert nice_ticks(3) == [0, 1, 2, 3]
