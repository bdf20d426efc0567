"""bench.operations: declared writes, measured in transactions that are rolled back."""

import json

import pytest

from bench import operations
from books.models import Book

pytestmark = pytest.mark.django_db


def _prices() -> dict[int, object]:
    return dict(Book.objects.values_list("pk", "price"))


def test_bench_measures_the_declared_operations_and_rolls_them_back(
    book_factory, tmp_path, run_bench
):
    book_factory(6)
    before = _prices()
    path = tmp_path / "bench.json"

    out = run_bench("--scenario", "reprice.*", "--json", str(path))

    assert _prices() == before  # bench never changes data
    rows = {row["name"]: row for row in json.loads(path.read_text())["operations"]}
    assert set(rows) == {"reprice.save", "reprice.bulk_update", "reprice.one_statement"}
    assert rows["reprice.save"]["queries"] == 6  # one UPDATE per book
    assert rows["reprice.bulk_update"]["queries"] == 1
    assert rows["reprice.one_statement"]["queries"] == 1
    assert {row["rows"] for row in rows.values()} == {6}
    assert all(row["runs"] == 2 and row["p50_ms"] > 0 for row in rows.values())
    assert "write operations" in out and "reprice.one_statement" in out


def test_list_names_the_operations(book_factory, run_bench):
    book_factory(1)
    assert "reprice.save" in run_bench("--list")


def test_an_operation_runs_its_callable_only_in_a_rolled_back_transaction(
    book_factory,
):
    [book] = book_factory(1)
    seen = []

    def prepare():
        seen.append(Book.objects.get().title)  # prepared inside the transaction

        def run():
            return Book.objects.filter(pk=book.pk).update(title="changed")

        return run

    [result] = operations.measure({"rename": prepare}, repeat=3)

    assert Book.objects.get().title == book.title
    assert (result.queries, result.rows, result.runs) == (1, 1, 3)
    assert seen == [book.title] * 4  # the audit run, then three timed ones


def test_a_failing_operation_is_a_row_with_its_error():
    def prepare():
        def run():
            raise ValueError("no such thing")

        return run

    [result] = operations.measure({"broken": prepare}, repeat=2)

    assert result.error == "ValueError: no such thing"
    assert result.as_json()["p50_ms"] is None and result.runs == 0


def test_select_matches_operation_names_by_glob():
    declared = {"reprice.save": None, "reprice.bulk_update": None, "other": None}
    assert list(operations.select(declared, ["reprice.*"])) == [
        "reprice.save",
        "reprice.bulk_update",
    ]
    assert operations.select(declared, None) == declared
