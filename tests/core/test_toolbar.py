"""core.toolbar: the debug toolbar's response-cache panel, under DEBUG only.

The toolbar is installed only when DEBUG is on at startup, which the test settings
never are, so this runs a DEBUG process of its own on a throwaway SQLite file.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests import faults

ROOT = Path(__file__).resolve().parent.parent.parent

SCRIPT = """
import json, re
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("seed", books=10, authors=3, verbosity=0)
client = Client(REMOTE_ADDR="127.0.0.1", HTTP_HOST="localhost")

def subtitle(html, panel):
    start = html.index('id="djdt-%s"' % panel)
    return re.search(r"<small>(.*?)</small>", html[start:], re.S).group(1).strip()

miss = client.get("/")
hit = client.get("/").content.decode()
request_id = re.search(r'data-request-id="([^"]+)"', hit).group(1)
panel = client.get(
    "/__debug__/render_panel/",
    {"request_id": request_id, "panel_id": "ResponseCachePanel"},
).json()["content"]
bypass = client.get("/?nocache=1")
print(json.dumps({
    "collapsed": settings.DEBUG_TOOLBAR_CONFIG["SHOW_COLLAPSED"],
    "miss": subtitle(miss.content.decode(), "ResponseCachePanel"),
    "hit": subtitle(hit, "ResponseCachePanel"),
    "hit_sql": subtitle(hit, "SQLPanel"),
    "panel": panel,
    "bypass": bypass["X-Cache"],
    "bypass_sql": subtitle(bypass.content.decode(), "SQLPanel"),
}))
"""


def test_the_toolbar_says_a_cached_page_ran_no_sql_and_how_to_see_it(tmp_path):
    env = faults.child_environ(
        {"REDIS_URL", "CELERY_BROKER_URL", "SECRET_KEY"}, keep_pytest=False
    )
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="WARNING",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])

    assert found["collapsed"] is True
    assert (found["miss"], found["hit"]) == ("MISS", "HIT")
    assert found["hit_sql"].startswith("0 queries")
    assert "ran <strong>no SQL</strong>" in found["panel"]
    assert 'href="/?nocache=1"' in found["panel"]
    assert found["bypass"] == "BYPASS"
    assert not found["bypass_sql"].startswith("0 queries")
