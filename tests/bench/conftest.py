"""Fixtures for the bench app's tests."""

from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management import call_command


@pytest.fixture
def run_bench() -> Callable[..., str]:
    """``manage.py bench --repeat 2 ARGS``; returns what it printed."""

    def run(*args: str) -> str:
        out = StringIO()
        call_command("bench", "--repeat", "2", *args, stdout=out, stderr=StringIO())
        return out.getvalue()

    return run
