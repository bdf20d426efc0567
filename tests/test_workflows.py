"""The GitHub Actions workflow (.github/workflows/bench.yml), checked as data.

It cannot run here (no runner, no service containers), so this reads it: the
services it needs, the steps it takes, and that every make target it calls exists.
"""

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "bench.yml"


@pytest.fixture(scope="module")
def job() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True
    assert "pull_request" in triggers
    [only] = workflow["jobs"].values()
    return only


def _runs(job: dict) -> list[str]:
    return [" ".join(step["run"].split()) for step in job["steps"] if "run" in step]


def test_postgres_17_and_redis_7_run_as_healthy_services(job):
    services = job["services"]
    assert services["postgres"]["image"] == "postgres:17"
    assert services["redis"]["image"] == "redis:7"
    assert "--health-cmd" in services["postgres"]["options"]
    assert "pg_isready" in services["postgres"]["options"]
    assert "redis-cli ping" in services["redis"]["options"]
    env = job["env"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert ":5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://") and ":6379" in env["REDIS_URL"]


def test_steps_install_test_bench_upload_and_comment(job):
    runs = _runs(job)
    install = next(i for i, r in enumerate(runs) if ".installed" in r or "pip" in r)
    test = next(i for i, r in enumerate(runs) if r.startswith("make test"))
    bench = next(i for i, r in enumerate(runs) if r.startswith("make bench"))
    assert install < test < bench
    for option in ("--json bench.json", "--html bench.html", "--markdown bench.md"):
        assert option in runs[bench]
    assert "--no-timing-budgets" in runs[bench]

    uses = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    assert "actions/checkout" in uses and "actions/setup-python" in uses
    uploaded = uses["actions/upload-artifact"]["with"]["path"].split()
    assert set(uploaded) == {"bench.json", "bench.html", "bench.md"}
    comment = uses["actions/github-script"]
    assert "pull_request" in comment["if"]
    assert "bench.md" in comment["with"]["script"]
    assert "createComment" in comment["with"]["script"]


def test_every_make_command_names_a_real_target(job):
    for run in _runs(job):
        if not run.startswith("make "):
            continue
        result = subprocess.run(
            ["make", "-n", *shlex.split(run)[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (run, result.stderr)
