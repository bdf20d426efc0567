"""config.asgi: the project over ASGI answers what it answers over WSGI.

In process through ``django.test.AsyncClient`` (Django's ASGI handler), then for real:
gunicorn with uvicorn workers beside gunicorn with gthread workers, on one scratch
database, byte for byte.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from tests import faults
from tests.conftest import make_books, scratch_database

ROOT = Path(__file__).resolve().parent.parent
PATHS = [
    "/api/books/",
    "/api/books/?page_size=7&ordering=title",
    "/api/books/?genre=fantasy&published_after=2000-01-03",
    "/api/ladder/values/books/",
    "/api/ladder/async/books/?page_size=50",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_asgi_serves_the_wsgi_json(client, path):
    make_books(12)

    async def over_asgi() -> list:
        asgi = AsyncClient()
        first, second = await asgi.get(path), await asgi.get(path)  # miss, then hit
        return [(r.status_code, r["Content-Type"], r.content) for r in (first, second)]

    answers = async_to_sync(over_asgi)()
    wsgi = client.get(path)

    assert wsgi.status_code == 200
    for status, content_type, body in answers:
        assert (status, content_type) == (200, wsgi["Content-Type"])
        assert json.loads(body) == wsgi.json()


# --- For real: gunicorn + uvicorn workers against gunicorn + gthread ------------------


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory, django_db_blocker) -> Iterator[dict[str, int]]:
    """Ports of a WSGI and an ASGI gunicorn serving one seeded scratch database."""
    workdir = tmp_path_factory.mktemp("asgi")
    with django_db_blocker.unblock():
        database_url, drop = scratch_database(workdir, "asgi")
    env = {
        **faults.child_environ({"DATABASE_URL"}, keep_pytest=False),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "asgi-test-" + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "CACHE_RELEASE": f"asgi-{uuid.uuid4().hex[:8]}",  # a private keyspace
        "CACHE_WARM_AFTER_WRITES": "false",
        "LOG_LEVEL": "WARNING",
        "GUNICORN_ACCESSLOG": "/dev/null",
        "GUNICORN_WORKERS": "1",
    }
    for command in (
        ["migrate", "--no-input"],
        ["seed", "--books", "2300", "--authors", "40", "--seed", "5"],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    ports = {"wsgi": faults.free_port(), "asgi": faults.free_port()}
    apps = {
        "wsgi": ["config.wsgi"],
        "asgi": ["-k", "uvicorn_worker.UvicornWorker", "config.asgi"],
    }
    processes = []
    try:
        for kind, port in ports.items():
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"]
                    + apps[kind],
                    cwd=ROOT,
                    env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        for kind, port in ports.items():
            faults.wait_for(lambda p=port: faults.port_open(p), 30, f"{kind} server")
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        with django_db_blocker.unblock():
            drop()


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PATHS, "/api/books/export.ndjson?ordering=title"])
def test_gunicorn_with_uvicorn_workers_answers_byte_for_byte(servers, path):
    wsgi_status, wsgi_headers, wsgi_body = _get(servers["wsgi"], path)
    asgi_status, asgi_headers, asgi_body = _get(servers["asgi"], path)

    assert wsgi_status == asgi_status == 200, (wsgi_body[:200], asgi_body[:200])
    assert asgi_headers["content-type"] == wsgi_headers["content-type"]
    assert asgi_body == wsgi_body


@pytest.mark.django_db
def test_the_export_streams_in_chunks_under_uvicorn(servers):
    """Under ASGI the export arrives chunked (no Content-Length: nothing buffered
    the whole body first), and all 2,300 lines arrive."""
    status, headers, body = _get(servers["asgi"], "/api/books/export.ndjson")

    assert status == 200
    assert headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in headers
    assert body.count(b"\n") == 2300
