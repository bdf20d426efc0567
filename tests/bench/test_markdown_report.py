"""bench --markdown: a summary table a pull-request comment renders."""

import json

import pytest

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


def first_table(text: str) -> list[list[str]]:
    """The cells of the first Markdown table in ``text`` (escaped pipes kept)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        assert line.endswith("|"), line
        cells = line[1:-1].replace("\\|", "\0").split("|")
        rows.append([cell.strip().replace("\0", "|") for cell in cells])
    return rows


@pytest.mark.urls(TEST_URLS)
def test_markdown_is_one_table_row_per_scenario_and_cache_mode(
    book_factory, tmp_path, run_bench
):
    book_factory(3)
    markdown, data = tmp_path / "bench.md", tmp_path / "bench.json"

    run_bench("--markdown", str(markdown), "--json", str(data))

    header, separator, *rows = first_table(markdown.read_text())
    assert header[:2] == ["Scenario", "Cache"]
    assert all(cell == "---" for cell in separator)
    assert {len(row) for row in rows} == {len(header)} == {len(separator)}
    expected = {
        (r["name"], r["cache"]) for r in json.loads(data.read_text())["scenarios"]
    }
    assert sorted((name.strip("`"), cache) for name, cache, *_ in rows) == sorted(
        expected
    )


@pytest.mark.urls(TEST_URLS)
def test_markdown_carries_the_comparison(book_factory, tmp_path, run_bench):
    book_factory(2)
    baseline, markdown = tmp_path / "baseline.json", tmp_path / "bench.md"
    run_bench("--scenario", "api.books.list", "--json", str(baseline))

    run_bench(
        "--scenario",
        "api.books.list",
        "--compare",
        str(baseline),
        "--markdown",
        str(markdown),
    )

    text = markdown.read_text()
    assert f"#### Against `{baseline}`" in text
    assert "No change in 4 rows" in text
