"""The Makefile and the README's knobs: `make help` names every target, and every
knob a make target reads is in the README's one Configuration table."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAKEFILE = (ROOT / "Makefile").read_text()


def _make(*args: str) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _targets() -> list[str]:
    """Every named rule of the Makefile (not the file targets like $(STAMP))."""
    return re.findall(r"^([a-z][a-z_-]*):(?!=)", MAKEFILE, re.M)


def test_help_lists_every_target_with_one_line():
    lines = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^  make (\S+)\s+(.+)$", _make("help"), re.M)
    }

    assert set(_targets()) <= set(lines), set(_targets()) - set(lines)
    assert all(len(text) > 10 for text in lines.values())


def test_help_is_the_default_and_installs_nothing():
    assert re.search(r"^\.DEFAULT_GOAL := help$", MAKEFILE, re.M)
    assert re.search(r"^help: ##", MAKEFILE, re.M)  # no prerequisites


def test_run_creates_the_demo_user_and_serve_collects_static_only_when_needed():
    assert "manage.py demo_user" in _make("-n", "run")
    assert re.search(r"^serve: \$\(STATIC_MANIFEST\)", MAKEFILE, re.M)
    assert 'LOAD_TEST="$${LOAD_TEST:-false}"' in MAKEFILE


def _configuration_table() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Configuration", 1)[1]
    return section.split("\n## ", 1)[0]


def test_every_knob_is_in_the_readme_configuration_table():
    table = _configuration_table()
    knobs = set(re.findall(r"^([A-Z][A-Z_]+) \?=", MAKEFILE, re.M))
    knobs |= {"PYTEST_ARGS", "BENCH_ARGS", "LOAD_TEST", "DATABASE_URL", "REDIS_URL"}

    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {name for row in rows for name in re.findall(r"`([A-Z][A-Z_]+)`", row)}
    assert knobs <= named, knobs - named
