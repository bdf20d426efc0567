"""Read replicas against a real streaming replica, served by a real gunicorn.

A throwaway primary and a streaming replica of it (``pg_basebackup -R``) run on spare
loopback ports under a temp dir, with a private Redis, and gunicorn (2 workers) serves
the site with ``DATABASE_URL`` = the primary and ``DATABASE_REPLICA_URLS`` = the
replica. Both servers log every statement with the client's ``application_name``
(``bookshelf-default``, ``bookshelf-replica1``), so "which server ran the books query"
is read from the servers' own logs, not from the app's word.

Proved here: anonymous reads run on the replica and writes on the primary; a writer
reads its own write at once with replay paused; a paused replica is seen lagging and
its reads move to the primary without caching an old page under the new generation,
and it comes back on resume; a stopped replica costs no 5xx and comes back on restart.
Service pass only (PostgreSQL): the servers are PostgreSQL's own binaries.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests import faults

ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 1.0  # REPLICA_MAX_LAG_SECONDS for the site (the default)
WAIT = 8.0  # seconds: the bound on every wait below
# Only the servers' statements that read or write the catalogue's books count.
BOOKS_READ = 'FROM "books_book"'
BOOKS_WRITE = 'UPDATE "books_book"'

pytestmark = pytest.mark.django_db


def _skip_reason() -> str | None:
    if connection.vendor != "postgresql":
        return "needs the service pass (DATABASE_URL=postgres://...): real replicas"
    missing = faults.missing_tools()
    if missing:
        return "missing " + ", ".join(missing)
    return None


@dataclass
class Server:
    """One throwaway cluster and the statements it has logged since ``mark()``."""

    pg: faults.Postgres
    name: str
    offset: int = 0

    @property
    def log(self) -> Path:
        return self.pg.sockets / "postgres.log"

    def mark(self) -> None:
        self.offset = self.log.stat().st_size

    def statements(self, application: str, text: str) -> list[str]:
        with self.log.open("rb") as handle:
            handle.seek(self.offset)
            lines = handle.read().decode(errors="replace").splitlines()
        return [
            line
            for line in lines
            if f"[{application}]" in line and "statement:" in line and text in line
        ]

    def sql(self, statement: str) -> object:
        with psycopg.connect(self.pg.url("bookshelf"), autocommit=True) as conn:
            row = conn.execute(statement).fetchone()
        return row[0] if row else None


@dataclass
class Site:
    port: int
    env: dict[str, str]
    primary: Server
    replica: Server
    writer: str = ""  # token of the user who writes
    reader: str = ""  # token of a user who only reads
    figures: dict[str, str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: dict | None = None,
    ) -> tuple[int, dict, dict[str, str], float]:
        headers = {"Host": "127.0.0.1", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            took = time.monotonic() - started
            data = json.loads(raw) if raw else {}
            return response.status, data, dict(response.getheaders()), took
        finally:
            conn.close()

    def get(self, path: str, token: str | None = None) -> tuple[int, dict, str]:
        status, data, headers, _ = self.call("GET", path, token)
        return status, data, headers.get("X-Cache", "")

    def health(self) -> dict:
        status, data, _, _ = self.call("GET", "/healthz")
        assert status == 200, data  # a replica never fails the check
        return data["replicas"]["replica1"]

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def mark(self) -> None:
        self.primary.mark()
        self.replica.mark()

    def books_read_by(self) -> tuple[int, int]:
        """(on the primary, on the replica) book reads since ``mark()``."""
        time.sleep(0.2)  # the servers' log writes are not synchronous with replies
        return (
            len(self.primary.statements("bookshelf-default", BOOKS_READ)),
            len(self.replica.statements("bookshelf-replica1", BOOKS_READ)),
        )


def wait_until(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds (at most ``WAIT``)."""
    started = time.monotonic()
    faults.wait_for(check, WAIT, what)
    return time.monotonic() - started


def caught_up(primary: Server, replica: Server) -> bool:
    target = primary.sql("SELECT pg_current_wal_lsn()")
    return bool(replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'"))


def unique() -> str:
    """A query string no cache has seen: the read must reach a database."""
    return f"nocache{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    # Not under pytest's private tmp dir: the postgres user must reach the clusters.
    workdir = Path(tempfile.mkdtemp(prefix="bookshelf-replicas-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres", group="postgres")
    primary_dir, replica_dir = workdir / "primary", workdir / "replica"
    primary_dir.mkdir()
    replica_dir.mkdir()
    logging = {"log_statement": "all", "log_line_prefix": "%m [%a] "}
    primary = faults.Postgres(primary_dir, faults.free_port())
    primary.settings = dict(logging)
    replica = faults.Postgres(replica_dir, faults.free_port())
    replica.settings = dict(logging)
    redis = faults.Redis(workdir, faults.free_port())
    started: list[Callable[[], object]] = []
    try:
        primary.init()
        primary.start()
        started.append(primary.stop)
        primary.create_database("bookshelf")
        redis.start()
        started.append(redis.stop)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith("PYTEST")
                and k
                not in {
                    "DATABASE_URL",
                    "DATABASE_REPLICA_URLS",
                    "REDIS_URL",
                    "CELERY_BROKER_URL",
                }
            },
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "replica-test-" + uuid.uuid4().hex,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": primary.url("bookshelf"),
            "REDIS_URL": redis.url,
            "CELERY_BROKER_URL": "memory://",
            "CATALOGUE_SYNC_SECONDS": "1",  # production's defaults, not the tests'
            "REPLICA_MONITOR_SECONDS": "0.5",
            "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
            "CACHE_WARM_AFTER_WRITES": "false",
            "CACHE_RELEASE": f"replicas-{uuid.uuid4().hex[:8]}",
            "STATIC_ROOT": str(workdir / "static"),
            "API_THROTTLE_ANON": "1000000/min",
            "API_THROTTLE_USER": "1000000/min",
            "LOG_LEVEL": "WARNING",
        }
        site = Site(
            faults.free_port(),
            env,
            Server(primary, "primary"),
            Server(replica, "replica"),
        )
        site.manage("migrate", "--no-input", "--verbosity", "0")
        site.manage(
            "seed", "--books", "60", "--authors", "6", "--seed", "5", "--verbosity", "0"
        )
        site.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            "User = get_user_model(); "
            "User.objects.create_superuser('writer', password=None); "
            "User.objects.create_user('reader', password=None)",
        )
        site.writer = site.manage("drf_create_token", "writer").split()[2]
        site.reader = site.manage("drf_create_token", "reader").split()[2]
        # The replica is a copy of the seeded, migrated primary.
        replica.copy_of(primary)
        replica.start()
        started.append(replica.stop)
        wait_until(lambda: caught_up(site.primary, site.replica), "the replica")
        site.env["DATABASE_REPLICA_URLS"] = replica.url("bookshelf")
        server = faults.Gunicorn(workdir, site.port, site.env)
        server.start()
        started.append(server.stop)
        wait_until(lambda: site.health()["state"] == "ok", "the replica to serve")
        yield site
        sys.stdout.write("\nreplica drill\n")
        for name, figure in site.figures.items():
            sys.stdout.write(f"  {name:<20} {figure}\n")
    finally:
        for stop in reversed(started):
            stop()
        shutil.rmtree(workdir, ignore_errors=True)


def served_by_replica(site: Site) -> bool:
    """One uncached read (the naive twin is never cached): did the replica run it?"""
    site.mark()
    status, _, _ = site.get(f"/api/naive/books/?page_size=2&{unique()}=1")
    assert status == 200
    return site.books_read_by()[1] > 0


def first_book(site: Site) -> dict:
    status, data, _ = site.get(f"/api/books/?page_size=1&{unique()}=1")
    assert status == 200, data
    return data["results"][0]


def test_anonymous_and_token_reads_run_on_the_replica_writes_on_the_primary(site):
    site.mark()
    for path in (f"/api/books/?{unique()}=1", f"/api/authors/?{unique()}=1"):
        status, _, x_cache = site.get(path)
        assert (status, x_cache) == (200, "MISS")
    status, _, _ = site.get(f"/api/books/?{unique()}=1", token=site.reader)
    assert status == 200
    on_primary, on_replica = site.books_read_by()
    assert on_replica >= 2 and on_primary == 0, (on_primary, on_replica)

    book = first_book(site)
    site.mark()
    status, data, _, _ = site.call(
        "PATCH", f"/api/books/{book['id']}/", site.writer, {"title": "Routed write"}
    )
    assert status == 200, data
    time.sleep(0.2)
    assert site.primary.statements("bookshelf-default", BOOKS_WRITE)
    assert not site.replica.statements("bookshelf-replica1", BOOKS_WRITE)
    site.figures["routing"] = (
        f"anonymous + token GETs: {on_replica} book reads on the replica, "
        f"{on_primary} on the primary; PATCH on the primary"
    )


def test_read_your_writes_and_lag_with_replay_paused(site):
    book = first_book(site)
    site.replica.sql("SELECT pg_wal_replay_pause()")
    try:
        version_before = site.health()["version"]
        title = f"Paused {uuid.uuid4().hex[:6]}"
        site.mark()
        status, data, _, _ = site.call(
            "PATCH", f"/api/books/{book['id']}/", site.writer, {"title": title}
        )
        assert status == 200, data
        acked = time.monotonic()  # the write is committed
        # The writer's very next read sees the write, though the replica cannot.
        status, data, _ = site.get(f"/api/books/{book['id']}/", token=site.writer)
        assert (status, data["title"]) == (200, title)
        # So does an anonymous reader: the new generation is a cache miss, and only
        # the primary has replayed it. What it caches is the new title, not the old.
        status, data, x_cache = site.get(f"/api/books/{book['id']}/")
        assert (status, x_cache, data["title"]) == (200, "MISS", title)
        status, data, x_cache = site.get(f"/api/books/{book['id']}/")
        assert (status, x_cache, data["title"]) == (200, "HIT", title)
        assert site.books_read_by()[1] == 0  # none of it from the replica

        def lagging() -> bool:
            found = site.health()
            return found["state"] == "lagging" and found["lag_seconds"] > MAX_LAG

        wait_until(lagging, "lag to be detected")
        detected = time.monotonic() - acked
        state = site.health()
        assert state["version"] == version_before  # it has not replayed the write
        # Reads no cache guards (the naive twin is never cached) leave it too: every
        # process's last sight of it caught up predates the write, so none routes to
        # it once MAX_LAG has passed since the commit.
        time.sleep(max(0.0, acked + MAX_LAG - time.monotonic()))
        site.mark()
        for _ in range(4):  # both workers
            status, _, _ = site.get(f"/api/naive/books/?page_size=2&{unique()}=1")
            assert status == 200
        on_primary, on_replica = site.books_read_by()
        assert on_replica == 0 and on_primary > 0, (on_primary, on_replica)
    finally:
        site.replica.sql("SELECT pg_wal_replay_resume()")
    resumed = time.monotonic()
    wait_until(lambda: site.health()["state"] == "ok", "healthz to say ok")
    healthy = time.monotonic() - resumed
    wait_until(lambda: served_by_replica(site), "reads to return to the replica")
    back = time.monotonic() - resumed
    site.figures["read-your-writes"] = (
        "replay paused: the writer's next GET and an anonymous MISS both showed the "
        "new title (0 book reads on the replica); the MISS cached the new title"
    )
    site.figures["lag detected"] = (
        f"healthz 'lagging' {detected:.1f} s after the write was acked "
        f"(lag {state['lag_seconds']:.1f} s > {MAX_LAG:g} s); uncached reads on "
        f"the primary ({on_primary} book reads, 0 on the replica)"
    )
    site.figures["recovery (resume)"] = (
        f"healthz 'ok' {healthy:.1f} s, reads on the replica {back:.1f} s after resume"
    )


def test_a_stopped_replica_costs_no_5xx_and_comes_back(site):
    site.replica.pg.stop()
    stopped = time.monotonic()
    try:
        timings = []
        for _ in range(12):
            status, data, _, took = site.call(
                "GET", f"/api/naive/books/?page_size=2&{unique()}=1"
            )
            assert status == 200, data
            timings.append(took)
        state = site.health()
        assert state["state"] == "down", state
        detected = time.monotonic() - stopped
    finally:
        site.replica.pg.start()
    restarted = time.monotonic()
    wait_until(lambda: site.health()["state"] == "ok", "healthz to say ok")
    healthy = time.monotonic() - restarted
    wait_until(lambda: served_by_replica(site), "reads to return to the replica")
    back = time.monotonic() - restarted
    site.figures["failover (stopped)"] = (
        f"12/12 GETs 200, slowest {max(timings):.2f} s, median "
        f"{sorted(timings)[6]:.3f} s; healthz 'down' {detected:.1f} s after stop"
    )
    site.figures["recovery (restart)"] = (
        f"healthz 'ok' {healthy:.1f} s, reads on the replica {back:.1f} s after the "
        "replica accepted connections again"
    )
