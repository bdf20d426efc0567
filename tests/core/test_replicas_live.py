"""Read replicas against real streaming replicas, served by a real gunicorn.

A throwaway primary and two streaming replicas of it (``pg_basebackup -R``) run on
spare loopback ports under a temp dir, with a private Redis, and gunicorn (2 workers)
serves the site with ``DATABASE_URL`` = the primary and ``DATABASE_REPLICA_URLS`` = the
replicas. Every server logs every statement with the client's ``application_name``
(``bookshelf-default``, ``bookshelf-replica1``, ...), so "which server ran the books
query" is read from the servers' own logs, not from the app's word.

Proved here: anonymous and token reads run on the replicas, both of them, and writes
on the primary; with replay paused a writer reads its own write at once, an anonymous
cache miss caches the new page and not the old one, the replicas are seen lagging and
every read moves to the primary, then back on resume; a stopped replica costs no 5xx,
its reads move to the other replica, and it comes back on restart.
Service pass only (PostgreSQL): the servers are PostgreSQL's own binaries.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
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
from tests.conftest import manage

ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 1.0  # REPLICA_MAX_LAG_SECONDS for the site (the default)
REPLICAS = ("replica1", "replica2")
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
    replicas: dict[str, Server]  # by alias
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

    def health(self) -> dict[str, dict]:
        status, data, _, _ = self.call("GET", "/healthz")
        assert status == 200, data  # a replica never fails the check
        return data["replicas"]

    def states(self) -> set[str]:
        return {found["state"] for found in self.health().values()}

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def servers(self) -> dict[str, Server]:
        return {"default": self.primary, **self.replicas}

    def mark(self) -> None:
        for server in self.servers().values():
            server.mark()

    def books_read_by(self) -> dict[str, int]:
        """Book reads per alias since ``mark()``, from each server's own log."""
        time.sleep(0.2)  # the servers' log writes are not synchronous with replies
        return {
            alias: len(server.statements(f"bookshelf-{alias}", BOOKS_READ))
            for alias, server in self.servers().items()
        }

    def sql_on_replicas(self, statement: str) -> None:
        for server in self.replicas.values():
            server.sql(statement)


def wait_until(check: Callable[[], bool], what: str) -> float:
    """Seconds until ``check()`` holds (at most ``WAIT``)."""
    started = time.monotonic()
    faults.wait_for(check, WAIT, what)
    return time.monotonic() - started


def caught_up(primary: Server, replica: Server) -> bool:
    target = primary.sql("SELECT pg_current_wal_lsn()")
    return bool(replica.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'"))


def unique() -> str:
    """A parameter value no cache has seen (views key on the parameters they read)."""
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
    logging = {"log_statement": "all", "log_line_prefix": "%m [%a] "}
    clusters = {}
    for name in ("default", *REPLICAS):
        (workdir / name).mkdir()
        clusters[name] = faults.Postgres(workdir / name, faults.free_port())
        clusters[name].settings = dict(logging)
    primary = clusters["default"]
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
            **faults.child_environ(faults.SERVICE_VARIABLES, keep_pytest=False),
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
            Server(primary, "default"),
            {alias: Server(clusters[alias], alias) for alias in REPLICAS},
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
        # The replicas are copies of the seeded, migrated primary.
        for alias in REPLICAS:
            clusters[alias].copy_of(primary)
            clusters[alias].start()
            started.append(clusters[alias].stop)
        for server in site.replicas.values():
            wait_until(lambda s=server: caught_up(site.primary, s), "a replica")
        site.env["DATABASE_REPLICA_URLS"] = ",".join(
            clusters[alias].url("bookshelf") for alias in REPLICAS
        )
        server = faults.Gunicorn(workdir, site.port, site.env)
        server.start()
        started.append(server.stop)
        wait_until(lambda: site.states() == {"ok"}, "the replicas to serve")
        yield site
        sys.stdout.write("\nreplica drill\n")
        for name, figure in site.figures.items():
            sys.stdout.write(f"  {name:<20} {figure}\n")
    finally:
        for stop in reversed(started):
            stop()
        shutil.rmtree(workdir, ignore_errors=True)


def served_by_replicas(site: Site, replicas: tuple[str, ...] = REPLICAS) -> bool:
    """Uncached reads (the naive twin is never cached): did only ``replicas`` run
    them, and every one of them? Each worker takes turns, so 4 reads reach both."""
    site.mark()
    for _ in range(4):
        status, _, _ = site.get(f"/api/naive/books/?page_size=2&search={unique()}")
        assert status == 200
    found = site.books_read_by()
    used = {alias for alias, count in found.items() if count}
    return used == set(replicas)


def recovery(site: Site) -> tuple[float, float]:
    """Seconds from now until healthz says ok, and until reads are back on both
    replicas."""
    healthy = wait_until(lambda: site.states() == {"ok"}, "healthz to say ok")
    back = wait_until(lambda: served_by_replicas(site), "reads to return to both")
    return healthy, healthy + back


def first_book(site: Site) -> dict:
    status, data, _ = site.get("/api/books/?page_size=1")
    assert status == 200, data
    return data["results"][0]


def test_reads_spread_over_the_replicas_and_writes_go_to_the_primary(site):
    site.mark()
    for _ in range(8):
        status, _, x_cache = site.get(f"/api/books/?search={unique()}")
        assert (status, x_cache) == (200, "MISS")
    for _ in range(2):
        status, _, _ = site.get(f"/api/books/?search={unique()}", token=site.reader)
        assert status == 200
    reads = site.books_read_by()
    assert reads["default"] == 0 and all(reads[alias] for alias in REPLICAS), reads

    book = first_book(site)
    site.mark()
    status, data, _, _ = site.call(
        "PATCH", f"/api/books/{book['id']}/", site.writer, {"title": "Routed write"}
    )
    assert status == 200, data
    time.sleep(0.2)
    assert site.primary.statements("bookshelf-default", BOOKS_WRITE)
    site.figures["routing"] = (
        "anonymous + token GETs: book reads "
        + ", ".join(f"{alias} {count}" for alias, count in reads.items())
        + "; the PATCH on the primary"
    )


def test_read_your_writes_and_lag_with_replay_paused(site):
    book = first_book(site)
    site.sql_on_replicas("SELECT pg_wal_replay_pause()")
    try:
        versions = {alias: found["version"] for alias, found in site.health().items()}
        title = f"Paused {uuid.uuid4().hex[:6]}"
        site.mark()
        status, data, _, _ = site.call(
            "PATCH", f"/api/books/{book['id']}/", site.writer, {"title": title}
        )
        assert status == 200, data
        acked = time.monotonic()  # the write is committed
        # The writer's very next read sees the write: it is pinned to the primary.
        # Unpinned, it would go to a replica (seen fresh well under a second ago)
        # that cannot have the write.
        status, data, _ = site.get(f"/api/books/{book['id']}/", token=site.writer)
        assert (status, data["title"]) == (200, title)
        # So does an anonymous reader: the new generation is a cache miss, and only
        # the primary has replayed it. What it caches is the new title, not the old.
        status, data, x_cache = site.get(f"/api/books/{book['id']}/")
        assert (status, x_cache, data["title"]) == (200, "MISS", title)
        status, data, x_cache = site.get(f"/api/books/{book['id']}/")
        assert (status, x_cache, data["title"]) == (200, "HIT", title)
        reads = site.books_read_by()
        assert reads["default"] > 0 and not any(reads[a] for a in REPLICAS), reads

        def lagging() -> bool:
            found = site.health().values()
            return all(
                f["state"] == "lagging" and f["lag_seconds"] > MAX_LAG for f in found
            )

        wait_until(lagging, "lag to be detected")
        detected = time.monotonic() - acked
        health = site.health()
        assert {a: f["version"] for a, f in health.items()} == versions  # not replayed
        lag = max(found["lag_seconds"] for found in health.values())
        # Reads no cache guards leave the replicas too: every process's last sight
        # of them caught up predates the write, so none routes to them once MAX_LAG
        # has passed since the commit.
        time.sleep(max(0.0, acked + MAX_LAG - time.monotonic()))
        assert served_by_replicas(site, replicas=("default",))
    finally:
        site.sql_on_replicas("SELECT pg_wal_replay_resume()")
    healthy, back = recovery(site)
    site.figures["read-your-writes"] = (
        "replay paused: the writer's next GET and an anonymous MISS showed the new "
        "title from the primary (0 book reads on the replicas); the MISS cached it"
    )
    site.figures["lag detected"] = (
        f"healthz 'lagging' {detected:.1f} s after the write was acked "
        f"(lag {lag:.1f} s > {MAX_LAG:g} s); uncached reads then all on the primary"
    )
    site.figures["recovery (resume)"] = (
        f"healthz 'ok' {healthy:.1f} s, reads on both replicas {back:.1f} s "
        "after resume"
    )


def test_a_stopped_replica_costs_no_5xx_and_its_reads_move_to_the_other(site):
    stopped_replica = site.replicas["replica1"].pg
    stopped_replica.stop()
    stopped = time.monotonic()
    try:
        timings = []
        site.mark()
        for _ in range(12):
            status, data, _, took = site.call(
                "GET", f"/api/naive/books/?page_size=2&search={unique()}"
            )
            assert status == 200, data
            timings.append(took)
        state = site.health()
        assert state["replica1"]["state"] == "down", state
        assert state["replica2"]["state"] == "ok", state
        detected = time.monotonic() - stopped
        # Later reads skip it: the other replica serves them, not the primary.
        assert served_by_replicas(site, replicas=("replica2",))
    finally:
        stopped_replica.start()
    healthy, back = recovery(site)
    site.figures["failover (stopped)"] = (
        f"12/12 GETs 200, slowest {max(timings):.2f} s, median "
        f"{sorted(timings)[6]:.3f} s; healthz 200, replica1 'down' "
        f"{detected:.1f} s after stop; its reads on replica2"
    )
    site.figures["recovery (restart)"] = (
        f"healthz 'ok' {healthy:.1f} s, reads on both replicas {back:.1f} s after "
        "replica1 accepted connections again"
    )
