"""bench.budgets: the budget file, the checks, and bench's exit status on a breach."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bench import budgets
from tests import faults

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.bench.urls"


def test_repo_budget_file_parses():
    loaded = budgets.load()

    assert loaded
    assert (
        budgets.limit_for(loaded, "api.books.list", "tuned", "cold", "max_duplicates")
        == 0
    )


def test_budget_file_rejects_unknown_keys(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text('[[budget]]\nscenario = "*"\nmax_querys = 3\n')

    with pytest.raises(ValueError, match="max_querys"):
        budgets.load(path)


def test_an_error_status_breaches_any_budget():
    row = {
        "name": "api.books.list",
        "variant": "tuned",
        "cache": "cold",
        "status": 500,
        "queries": 0,
        "duplicate_queries": 0,
    }
    rules = [budgets.Budget(scenario="api.books.list", max_queries=5)]

    [breach] = budgets.check([row], rules)

    assert (breach.metric, breach.actual) == ("status", 500)
    assert budgets.check([row], []) == []  # no budget file, no gate


@pytest.mark.urls(TEST_URLS)
def test_tight_budget_exits_1_and_lists_the_breach(book_factory, tmp_path):
    book_factory(3)
    budget = tmp_path / "budget.toml"
    budget.write_text(
        '[[budget]]\nscenario = "api.books.list"\nmax_queries = 0\n'
        '[[budget]]\nscenario = "api.books.list"\nvariant = "naive"\n'
        "max_duplicates = 1\n"
    )
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("bench", "--repeat", "1", "--budget", str(budget), stdout=out)

    assert raised.value.returncode == 1
    message = str(raised.value)
    assert "api.books.list [tuned, cold]: queries 1 > 0" in message
    assert "api.books.list [naive, warm]: duplicate_queries 2 > 1" in message
    assert "api.books.list.page100" not in message  # the glob has no wildcard
    assert "BREACH api.books.list [tuned, cold]" in out.getvalue()


@pytest.mark.urls(TEST_URLS)
def test_met_budget_passes_and_timing_budgets_can_be_skipped(
    book_factory, tmp_path, run_bench
):
    book_factory(2)
    budget = tmp_path / "budget.toml"
    budget.write_text(
        '[[budget]]\nscenario = "api.*"\nmax_queries = 1\nmax_p95_ms = 0.001\n'
    )

    out = run_bench(
        "--budget", str(budget), "--no-timing-budgets", "--scenario", "api.*"
    )

    assert "All budgets met." in out


def test_repo_query_budgets_hold_on_the_real_api_and_pages(
    book_factory, tmp_path, run_bench
):
    book_factory(5)
    path = tmp_path / "bench.json"

    out = run_bench(
        "--budget",
        str(budgets.default_path()),
        "--no-timing-budgets",
        "--no-timing",
        "--json",
        str(path),
    )

    assert "All budgets met." in out
    rows = json.loads(path.read_text())["scenarios"]
    names = {r["name"] for r in rows}
    assert {"api.books.list", "api.books.detail", "page.home", "page.book"} <= names
    assert all(r["status"] == 200 for r in rows), [
        (r["name"], r["status"], r["error"]) for r in rows if r["status"] != 200
    ]
    naive = {
        r["name"]: r for r in rows if r["variant"] == "naive" and r["cache"] == "cold"
    }
    # Five books by two authors: the naive list repeats per row, the tuned never does.
    sites = {s["table"]: s for s in naive["api.books.list"]["n_plus_one"]}
    assert naive["api.books.list"]["duplicate_queries"] >= 4 * 4
    author = sites["books_author"]
    assert author["count"] == 5
    assert author["fingerprint"].endswith('WHERE "books_author"."id" = ? LIMIT ?')
    assert author["site"].startswith("NaiveBookSerializer.author (api/")
    assert author["hint"].startswith("select_related('author') in NaiveBookViewSet")


@pytest.mark.django_db(databases=[])
def test_manage_py_bench_exits_1_on_a_breach(tmp_path):
    """The real process, on a throwaway SQLite file: CI gates on this exit status."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **faults.child_environ(("REDIS_URL", "DEBUG", "DATABASE_REPLICA_URLS")),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "SECRET_KEY": "test-only",
        "DEBUG": "false",
    }
    budget = tmp_path / "budget.toml"
    budget.write_text('[[budget]]\nscenario = "api.books.list"\nmax_queries = 1\n')

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for setup in (("migrate", "-v0"), ("seed", "--books", "30", "-v0")):
        done = manage(*setup)
        assert done.returncode == 0, done.stderr
    run = manage(
        "bench", "--scenario", "api.books.list", "--no-timing", "--budget", str(budget)
    )

    assert run.returncode == 1, run.stderr
    assert "api.books.list [tuned, cold]: queries 2 > 1" in run.stderr


def test_exclude_leaves_the_named_scenarios_alone(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text(
        '[[budget]]\nscenario = "api.*"\nexclude = ["api.books.export"]\n'
        "max_duplicates = 0\n"
    )
    [rule] = budgets.load(path)
    row = {"variant": "tuned", "cache": "cold", "duplicate_queries": 3}

    assert budgets.check([{**row, "name": "api.books.export"}], [rule]) == []
    [breach] = budgets.check([{**row, "name": "api.books.list"}], [rule])
    assert breach.metric == "duplicate_queries"


def test_time_to_first_byte_is_a_timing_budget():
    rule = budgets.Budget(scenario="api.books.export", max_ttfb_ms=100)
    row = {
        "name": "api.books.export",
        "variant": "tuned",
        "cache": "cold",
        "ttfb_ms": 150.0,
    }

    [breach] = budgets.check([row], [rule])
    assert (breach.metric, breach.actual) == ("ttfb_ms", 150.0)
    assert budgets.check([row], [rule], timing=False) == []
