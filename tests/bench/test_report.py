"""bench.report: the terminal table fits the console; names and numbers stay whole."""

import pytest

from bench.report import COLUMNS

pytestmark = pytest.mark.django_db

SCENARIOS = ("--scenario", "api.books.list*", "api.authors.*", "page.home*")


def _header_words() -> set[str]:
    return {column.header.split("\n")[0] for column in COLUMNS.values()}


def test_at_100_columns_nothing_is_cut(book_factory, run_bench, monkeypatch):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "100")

    out = run_bench(*SCENARIOS)

    assert "…" not in out
    lines = [line for line in out.splitlines() if line.startswith(("┃", "│", "┏"))]
    assert lines and max(len(line) for line in lines) <= 100
    assert "api.authors.list.page100" in out and "page.home.genre" in out
    for kept in ("queries", "p50 ms", "speed-up"):
        assert kept in out
    table, hidden = out.split("Hidden to fit the console: ")
    assert "p99 ms" not in table and "p99 ms" in hidden.splitlines()[0]  # first to go


def test_at_200_columns_every_column_shows(book_factory, run_bench, monkeypatch):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "200")

    out = run_bench(*SCENARIOS)

    header = "\n".join(line for line in out.splitlines() if line.startswith("┃"))
    for word in _header_words():
        assert word in header, word
    assert "…" not in out and "Hidden" not in out


def test_wide_shows_every_column_on_a_narrow_console(
    book_factory, run_bench, monkeypatch
):
    book_factory(3)
    monkeypatch.setenv("COLUMNS", "80")

    out = run_bench("--scenario", "api.books.list", "--wide")

    header = "\n".join(line for line in out.splitlines() if line.startswith("┃"))
    assert all(word in header for word in _header_words())
    assert "…" not in out
