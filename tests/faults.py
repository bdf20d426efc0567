"""Fault drill: real outages under load, against throwaway servers on spare ports.

    .venv/bin/python -m tests.faults [--keep]

Starts its OWN PostgreSQL (``initdb`` into a temp dir, run as the ``postgres`` OS user
when invoked as root) and its OWN Redis, each on a free loopback port, so stopping
them never touches the machine's shared services on 5432/6379. It migrates, seeds a
small catalogue, makes a user and token, runs gunicorn with ``config/gunicorn.py`` and
drives a mixed read/write load from a few threads while it:

  (a) stops Redis mid-load     -> no 5xx, every acknowledged write is in the database
  (b) stops PostgreSQL         -> 503s naming the database with p99 <= 1 s, cache hits
                                  still served, no hung or killed workers, and every
                                  write succeeds again after recovery, no restart
  (c) races duplicate ISBNs    -> exactly one 201, the rest 400/409
  (d) SIGTERMs gunicorn        -> in-flight requests complete
  (e) stalls Redis (SIGSTOP)   -> writes acknowledged during the stall; after SIGCONT
      and a gunicorn reload       and a reload (HUP), no stale read once the freshness
                                  bound has passed, no old ETag gets a 304

Writes are never retried by the client: a POST that got no response counts as one.

It prints a summary table and exits non-zero when a scenario fails. Loopback only,
bounded in time (a watchdog ends it after ``DEADLINE`` seconds).
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
LOOPBACK = "127.0.0.1"
DEADLINE = 240  # seconds for the whole drill, setup included
REQUEST_TIMEOUT = 20.0  # client socket timeout: well above the 0.5 s pool wait
WORKERS, THREADS = 2, 4
DB_POOL_TIMEOUT = 0.5  # the production default
FAST_503_P99 = 1.0  # seconds: "a fast 503"
FRESHNESS_BOUND = 2.0  # seconds: the README's bound for every other reader
BOOKS = 400


def out(text: str = "") -> None:
    """The drill's console output (a CLI, so stdout, not logging)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    out(f"[faults {time.strftime('%H:%M:%S')}] {message}")


def pg_bin() -> Path | None:
    """The PostgreSQL server binaries: $PG_BIN, or the newest /usr/lib/postgresql/*."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def missing_tools() -> list[str]:
    missing = []
    if pg_bin() is None or not (pg_bin() / "postgres").exists():
        missing.append("PostgreSQL server binaries (initdb, postgres; set PG_BIN)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (to run PostgreSQL as the postgres user)")
    if not Path(GUNICORN).exists():
        missing.append("gunicorn in the virtualenv")
    return missing


# What the calling run points its own process at: a server or command started for a
# drill or a test gets services of its own, or none.
SERVICE_VARIABLES = frozenset(
    {"DATABASE_URL", "DATABASE_REPLICA_URLS", "REDIS_URL", "CELERY_BROKER_URL"}
)


def child_environ(
    drop: Collection[str] = (), *, keep_pytest: bool = True
) -> dict[str, str]:
    """This process's environment less ``drop``, for a subprocess to add its own
    settings to. Without ``keep_pytest``, pytest's variables go too, so that a server
    does not behave as under tests (the debug toolbar refuses to load there)."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and (keep_pytest or not k.startswith("PYTEST"))
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- Throwaway servers ----------------------------------------------------------------


class Postgres:
    """A private cluster in ``workdir``; started and stopped by this process only."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.bin = pg_bin()
        self.data = workdir / "pgdata"
        self.sockets = workdir
        self.port = port
        self.proc: subprocess.Popen | None = None
        # Extra server settings (``-c name=value``), kept across restarts.
        self.settings: dict[str, str] = {}
        self.as_postgres = os.geteuid() == 0  # initdb/postgres refuse to run as root
        if self.as_postgres:
            shutil.chown(workdir, user="postgres", group="postgres")

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return [*prefix, *args]

    def init(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "drill",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def copy_of(self, primary: Postgres) -> None:
        """Make this cluster a streaming replica of ``primary`` instead of ``init()``.

        ``pg_basebackup -R`` copies the running primary and writes ``standby.signal``
        and ``primary_conninfo``; initdb's trust rules already admit replication
        connections from the loopback, and ``wal_level`` defaults to ``replica``.
        """
        subprocess.run(
            self._cmd(
                str(self.bin / "pg_basebackup"),
                "-h",
                LOOPBACK,
                "-p",
                str(primary.port),
                "-U",
                "drill",
                "-D",
                str(self.data),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\n")

    def start(self) -> None:
        logfile = open(self.sockets / "postgres.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self._cmd(
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.sockets),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "max_connections=60",
                "-c",
                "shared_buffers=64MB",
                *(f"-c{name}={value}" for name, value in self.settings.items()),
            ),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, 30, "PostgreSQL to accept connections")

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        """Fast shutdown (what `docker compose stop` does): SIGINT to the postmaster."""
        if self.proc and self.proc.poll() is None:
            os.kill(self._postmaster_pid(), signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self._postmaster_pid(), signal.SIGQUIT)
                self.proc.wait(timeout=10)

    def _postmaster_pid(self) -> int:
        # With runuser in front, our child is runuser; the postmaster writes its pid.
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return self.proc.pid

    def url(self, name: str = "bookshelf") -> str:
        return f"postgres://drill@{LOOPBACK}:{self.port}/{name}"

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


class Redis:
    def __init__(self, workdir: Path, port: int) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--maxmemory",
                "64mb",
                "--maxmemory-policy",
                "allkeys-lru",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), 15, "Redis to listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


class Gunicorn:
    def __init__(
        self,
        workdir: Path,
        port: int,
        env: dict[str, str],
        *,
        workers: int = WORKERS,
        threads: int = THREADS,
    ) -> None:
        self.port = port
        self.env = env
        self.workers, self.threads = workers, threads
        self.logpath = workdir / "gunicorn.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        logfile = open(self.logpath, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [GUNICORN, "-c", "config/gunicorn.py", "config.wsgi"],
            cwd=ROOT,
            env={
                **self.env,
                "HOST": LOOPBACK,
                "PORT": str(self.port),
                "GUNICORN_WORKERS": str(self.workers),
                "GUNICORN_THREADS": str(self.threads),
            },
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open(self.port), 30, "gunicorn to listen")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 45) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group only
                return self.proc.wait(timeout=10)
        return self.proc.returncode if self.proc else None

    def log_text(self) -> str:
        try:
            return self.logpath.read_text(errors="replace")
        except OSError:
            return ""


# --- HTTP load ------------------------------------------------------------------------


@dataclass
class Result:
    method: str
    path: str
    status: int  # 0 = no HTTP response (connection refused/reset/timeout)
    seconds: float
    body: bytes = b""
    error: str = ""
    started: float = 0.0
    x_cache: str = ""
    etag: str = ""


def request(
    port: int,
    method: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    conn: http.client.HTTPConnection | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[Result, http.client.HTTPConnection | None]:
    """One request; reuses ``conn`` (keep-alive) and returns the one to use next.

    A GET on a keep-alive connection the server closed while idle is retried once on
    a fresh one (it is idempotent). A write is never retried: it always goes on a
    fresh connection, and a write that got no response is reported as such.
    """
    sent = {"Accept": "application/json", "Host": f"{LOOPBACK}:{port}"}
    sent.update(headers or {})
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if token:
        sent["Authorization"] = f"Token {token}"
    if method != "GET" and conn is not None:
        conn.close()
        conn = None
    started = time.monotonic()
    for attempt in (1, 2):
        fresh = conn is None
        if conn is None:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=payload, headers=sent)
            response = conn.getresponse()
            data = response.read()
            result = Result(
                method, path, response.status, time.monotonic() - started, data
            )
            result.started = started
            result.x_cache = response.getheader("X-Cache", "")
            result.etag = response.getheader("ETag", "")
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
            return result, conn
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            conn = None
            if fresh or attempt == 2 or method != "GET":
                error = "connection closed without a response"
                break
        except OSError as exc:
            conn.close()
            conn = None
            error = f"{type(exc).__name__}: {exc}"
            break
    result = Result(method, path, 0, time.monotonic() - started, error=error)
    result.started = started
    return result, None


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


class Load:
    """A few threads of mixed reads and writes; records every request's outcome."""

    def __init__(
        self, port: int, token: str, book_ids: list[int], author_ids: list[int]
    ):
        self.port = port
        self.token = token
        self.book_ids = book_ids
        self.author_ids = author_ids
        self.results: list[Result] = []
        self.created_isbns: list[str] = []  # acknowledged (201) book creates
        self.created_reviews: list[int] = []  # acknowledged (201) review ids
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.writes_paused = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, readers: int = 3, writers: int = 2) -> None:
        self._stop.clear()
        for i in range(readers):
            self._threads.append(threading.Thread(target=self._read, args=(i,)))
        for i in range(writers):
            self._threads.append(threading.Thread(target=self._write, args=(i,)))
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def stop(self) -> list[Result]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        self._threads = []
        with self._lock:
            results, self.results = self.results, []
        return results

    def _record(self, result: Result) -> None:
        with self._lock:
            self.results.append(result)

    def _read(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = None
        while not self._stop.is_set():
            choice = rng.random()
            if choice < 0.4:
                path = "/api/books/"
            elif choice < 0.7:
                path = f"/api/books/{rng.choice(self.book_ids)}/"
            elif choice < 0.85:
                author = rng.choice(self.author_ids)
                path = f"/api/books/?page_size=50&ordering=title&author={author}"
            else:
                path = "/"
            result, conn = request(self.port, "GET", path, conn=conn)
            self._record(result)

    def _write(self, seed: int) -> None:
        rng = random.Random(1000 + seed)
        conn = None
        while not self._stop.is_set():
            if self.writes_paused.is_set():
                time.sleep(0.05)
                continue
            if rng.random() < 0.5:
                isbn = next_isbn()
                body = {
                    "title": f"Drill book {isbn}",
                    "isbn": isbn,
                    "author": rng.choice(self.author_ids),
                    "published": "2020-01-01",
                    "pages": 123,
                    "price": "9.99",
                }
                result, conn = request(
                    self.port, "POST", "/api/books/", body, self.token, conn
                )
                if result.status == 201:
                    with self._lock:
                        self.created_isbns.append(isbn)
            else:
                book = rng.choice(self.book_ids)
                body = {"reviewer": "drill", "rating": rng.randint(1, 5), "body": "ok"}
                result, conn = request(
                    self.port,
                    "POST",
                    f"/api/books/{book}/reviews/",
                    body,
                    self.token,
                    conn,
                )
                if result.status == 201:
                    with self._lock:
                        self.created_reviews.append(json.loads(result.body)["id"])
            self._record(result)


_isbn_lock = threading.Lock()
_isbn_counter = [random.randrange(10**6)]


def next_isbn() -> str:
    """A fresh valid ISBN-13 under the unassigned 979-9 prefix."""
    with _isbn_lock:
        _isbn_counter[0] += 1
        first12 = f"9799{_isbn_counter[0]:08d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


# --- Scenarios ------------------------------------------------------------------------


@dataclass
class Outcome:
    scenario: str
    requests: int = 0
    server_errors: int = 0  # any 5xx other than the intended 503s
    unavailable: int = 0  # 503s
    acked_writes: int = 0  # 201s whose rows must be in the database afterwards
    lost_writes: int = 0
    max_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def account(self, results: list[Result]) -> None:
        self.requests += len(results)
        for r in results:
            self.max_seconds = max(self.max_seconds, r.seconds)
            if r.status == 503:
                self.unavailable += 1
            elif r.status >= 500:
                self.server_errors += 1


class Drill:
    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.workdir = Path(tempfile.mkdtemp(prefix="bookshelf-faults-"))
        self.pg = Postgres(self.workdir, free_port())
        self.redis = Redis(self.workdir, free_port())
        self.web_port = free_port()
        self.env = {
            **child_environ(SERVICE_VARIABLES),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",
            "SECRET_KEY": "fault-drill-only-" + os.urandom(16).hex(),
            "ALLOWED_HOSTS": LOOPBACK,
            "DATABASE_URL": self.pg.url(),
            "REDIS_URL": self.redis.url,
            "DB_POOL_TIMEOUT": str(DB_POOL_TIMEOUT),
            # Production's freshness sync, whatever the calling test run disabled.
            "CATALOGUE_SYNC_SECONDS": "1",
            "CACHE_LOCAL_SECONDS": "0.5",
            "CACHE_WARM_AFTER_WRITES": "false",
            "DB_POOL_MAX_SIZE": str(THREADS),
            "LOG_FORMAT": "json",
            # Its own manifest: a fresh clone has none, and DEBUG-off pages need one.
            "STATIC_ROOT": str(self.workdir / "static"),
            # The drill is one client address hammering the API on purpose.
            "API_THROTTLE_ANON": "1000000/min",
            "API_THROTTLE_USER": "1000000/min",
        }
        self.web = Gunicorn(self.workdir, self.web_port, self.env)
        self.token = ""
        self.book_ids: list[int] = []
        self.author_ids: list[int] = []

    # -- setup --

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}"
            )
        return done.stdout

    def setup(self) -> None:
        log(f"workdir {self.workdir}")
        log(f"PostgreSQL on {LOOPBACK}:{self.pg.port}, Redis on {self.redis.port}")
        self.pg.init()
        self.pg.start()
        self.pg.create_database("bookshelf")
        self.redis.start()
        self.manage("migrate", "--no-input", "--verbosity", "0")
        # Only the files the drill's pages link to: the API docs' bundles alone take
        # 40 s to compress, and nothing here requests them.
        self.manage(
            "collectstatic", "--no-input", "--verbosity", "0",
            "--ignore", "drf_spectacular_sidecar", "--ignore", "rest_framework",
            "--ignore", "admin",
        )  # fmt: skip
        self.manage("seed", "--books", str(BOOKS), "--authors", "40", "--seed", "7")
        self.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_superuser('drill', password=None)",
        )
        out = self.manage("drf_create_token", "drill")
        self.token = out.split()[2]  # "Generated token <key> for user drill"
        import psycopg

        with psycopg.connect(self.pg.url()) as conn:
            self.book_ids = [r[0] for r in conn.execute("SELECT id FROM books_book")]
            self.author_ids = [
                r[0] for r in conn.execute("SELECT id FROM books_author")
            ]
        self.web.start()
        wait_for(lambda: self.get("/healthz") == 200, 30, "the site to be healthy")
        log(f"gunicorn on {LOOPBACK}:{self.web_port}, {WORKERS}x{THREADS} threads")

    def get(self, path: str) -> int:
        return request(self.web_port, "GET", path)[0].status

    def teardown(self) -> None:
        for stop in (self.web.stop, self.redis.stop, self.pg.stop):
            try:
                stop()
            except Exception as exc:  # keep tearing down the rest
                log(f"teardown: {exc}")
        if self.keep:
            log(f"kept {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- checks --

    def lost_writes(self, load: Load) -> int:
        import psycopg

        with psycopg.connect(self.pg.url()) as conn:
            isbns = {
                r[0]
                for r in conn.execute(
                    "SELECT isbn FROM books_book WHERE isbn = ANY(%s)",
                    (load.created_isbns,),
                )
            }
            reviews = {
                r[0]
                for r in conn.execute(
                    "SELECT id FROM books_review WHERE id = ANY(%s)",
                    (load.created_reviews,),
                )
            }
        return (len(load.created_isbns) - len(isbns)) + (
            len(load.created_reviews) - len(reviews)
        )

    def load(self) -> Load:
        return Load(self.web_port, self.token, self.book_ids, self.author_ids)

    # -- (a) --

    def redis_down(self) -> Outcome:
        outcome = Outcome("a. Redis stopped mid-load")
        load = self.load()
        load.start()
        time.sleep(4)
        log("(a) stopping Redis")
        self.redis.stop()
        time.sleep(8)
        down = [r for r in load.results if r.status]
        log("(a) starting Redis again")
        self.redis.start()
        time.sleep(4)
        results = load.stop()
        outcome.account(results)
        writes = [r for r in results if r.method == "POST"]
        if not down or not writes or any(r.status != 201 for r in writes):
            statuses = sorted({r.status for r in writes})
            outcome.failures.append(f"writes were not all 201 (statuses {statuses})")
        if outcome.server_errors or outcome.unavailable:
            outcome.failures.append(
                f"{outcome.server_errors + outcome.unavailable} 5xx with Redis down"
            )
        dropped = [r for r in results if r.status == 0]
        if dropped:
            outcome.failures.append(f"{len(dropped)} requests got no response")
        outcome.acked_writes = len(load.created_isbns) + len(load.created_reviews)
        outcome.lost_writes = self.lost_writes(load)
        if outcome.lost_writes:
            outcome.failures.append(f"{outcome.lost_writes} acknowledged writes lost")
        if self.get("/healthz") != 200:
            outcome.failures.append("healthz not 200 after Redis came back")
        return outcome

    # -- (b) --

    def postgres_down(self) -> Outcome:
        outcome = Outcome("b. PostgreSQL stopped")
        load = self.load()
        load.start()
        time.sleep(3)
        # Every write invalidates every cached page; a quiet second lets the readers
        # cache the current catalogue, as a real site's reads would between writes.
        load.writes_paused.set()
        time.sleep(1.5)
        log("(b) stopping PostgreSQL")
        stopped_at = time.monotonic()
        self.pg.stop()
        load.writes_paused.clear()
        time.sleep(10)
        during = [r for r in load.results if r.started >= stopped_at]
        log("(b) starting PostgreSQL again")
        restarted_at = time.monotonic()
        self.pg.start()
        # Recovery without restarting gunicorn: authenticated writes (no cache can
        # answer those) succeed again within a bounded time.
        try:
            wait_for(
                lambda: any(
                    r.status == 201 and r.started > restarted_at for r in load.results
                ),
                30,
                "writes to succeed again after PostgreSQL restarted",
            )
            recovered = time.monotonic() - restarted_at
        except RuntimeError as exc:
            outcome.failures.append(str(exc))
            recovered = None
        time.sleep(3)
        tail_start = time.monotonic()
        time.sleep(3)
        results = load.stop()
        outcome.account(results)
        self.recovery_seconds = recovered
        unavailable = [r for r in during if r.status == 503]
        if not unavailable:
            outcome.failures.append("no 503 while PostgreSQL was down")
        for r in unavailable:
            try:
                detail = json.loads(r.body).get("detail", "")
            except ValueError:
                detail = r.body[:80].decode(errors="replace")
            if "database" not in detail:
                outcome.failures.append(f"503 without naming the database: {detail!r}")
                break
        if outcome.server_errors:
            outcome.failures.append(f"{outcome.server_errors} non-503 5xx")
        # "Fast": the connect breaker answers in microseconds once one connect failed;
        # only the requests in flight when the database died wait the 1 s pool timeout.
        self.fast_503_p99 = p99([r.seconds for r in unavailable])
        if self.fast_503_p99 > FAST_503_P99:
            outcome.failures.append(
                f"503 p99 {self.fast_503_p99:.2f} s > {FAST_503_P99:.0f} s"
            )
        self.hits_during_outage = sum(
            1 for r in during if r.status == 200 and r.x_cache == "HIT"
        )
        if not self.hits_during_outage:
            outcome.failures.append("no cache hit was served while PostgreSQL was down")
        dropped = [r for r in results if r.status == 0]
        if dropped:
            outcome.failures.append(f"{len(dropped)} requests got no response (hung?)")
        tail = [r for r in results if r.started >= tail_start]
        if not tail or any(r.status >= 500 for r in tail):
            outcome.failures.append("errors continued after recovery")
        tail_writes = [r for r in tail if r.method == "POST"]
        if not tail_writes or any(r.status != 201 for r in tail_writes):
            statuses = sorted({r.status for r in tail_writes})
            outcome.failures.append(
                f"writes after recovery were not all 201: {statuses}"
            )
        if "WORKER TIMEOUT" in self.web.log_text():
            outcome.failures.append("gunicorn killed a hung worker")
        outcome.acked_writes = len(load.created_isbns) + len(load.created_reviews)
        outcome.lost_writes = self.lost_writes(load)
        if outcome.lost_writes:
            outcome.failures.append(f"{outcome.lost_writes} acknowledged writes lost")
        return outcome

    # -- (c) --

    def duplicate_isbn(self, racers: int = 8) -> Outcome:
        outcome = Outcome("c. concurrent duplicate ISBN")
        isbn = next_isbn()
        body = {
            "title": "Only one of us",
            "isbn": isbn,
            "author": self.author_ids[0],
            "published": "2021-02-03",
            "pages": 99,
            "price": "5.00",
        }
        barrier = threading.Barrier(racers)
        results: list[Result] = []
        lock = threading.Lock()

        def race() -> None:
            conn = http.client.HTTPConnection(
                LOOPBACK, self.web_port, timeout=REQUEST_TIMEOUT
            )
            conn.connect()
            barrier.wait(timeout=10)
            result, _ = request(
                self.web_port, "POST", "/api/books/", body, self.token, conn
            )
            with lock:
                results.append(result)

        threads = [threading.Thread(target=race) for _ in range(racers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 10)
        outcome.account(results)
        created = [r for r in results if r.status == 201]
        rejected = [r for r in results if r.status in {400, 409}]
        if len(created) != 1:
            outcome.failures.append(f"{len(created)} creates succeeded, expected 1")
        if len(rejected) != racers - 1:
            statuses = sorted(r.status for r in results)
            outcome.failures.append(f"statuses {statuses}")
        import psycopg

        with psycopg.connect(self.pg.url()) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM books_book WHERE isbn = %s", (isbn,)
            ).fetchone()[0]
        if rows != 1:
            outcome.failures.append(f"{rows} rows with the ISBN")
        outcome.acked_writes = len(created)
        outcome.lost_writes = len(created) - rows if created else 0
        return outcome

    # -- (d) --

    def sigterm(self, inflight: int = 6) -> Outcome:
        """SIGTERM while slow requests are being served: every one completes."""
        outcome = Outcome("d. SIGTERM to gunicorn")
        # The naive list is deliberately slow (N+1 queries), so these are mid-flight.
        path = "/api/naive/books/?page_size=100"
        results: list[Result] = []
        lock = threading.Lock()

        def one() -> None:
            result, _ = request(self.web_port, "GET", path)
            with lock:
                results.append(result)

        threads = [threading.Thread(target=one) for _ in range(inflight)]
        for thread in threads:
            thread.start()
        time.sleep(0.15)  # accepted and running, not finished
        log("(d) sending SIGTERM to the gunicorn master")
        term_at = time.monotonic()
        exit_code = self.web.stop(signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        outcome.account(results)
        finished_after = sum(1 for r in results if r.started + r.seconds > term_at)
        log(f"(d) {finished_after} of {len(results)} responses finished after SIGTERM")
        bad = [r for r in results if r.status != 200]
        if bad:
            outcome.failures.append(
                f"{len(bad)} in-flight requests did not complete: "
                + ", ".join(sorted({str(r.status or r.error) for r in bad}))
            )
        if finished_after == 0:
            outcome.failures.append("no request was still in flight at SIGTERM")
        if exit_code != 0:
            outcome.failures.append(f"gunicorn exited with {exit_code}")
        if port_open(self.web_port):
            outcome.failures.append("still listening after SIGTERM")
        return outcome

    # -- (e) --

    def redis_stall(self, books: int = 4) -> Outcome:
        """SIGSTOP Redis, write, SIGCONT, reload gunicorn: nothing stale past the bound.

        The writers' publishes time out against the stopped Redis; the reload throws
        away every worker's memory, so only the database can say what changed.
        """
        outcome = Outcome("e. Redis stalled (SIGSTOP), reload")
        targets = self.book_ids[:books]
        paths = [f"/api/books/{pk}/" for pk in targets] + ["/api/books/", "/"]
        before = {}
        for path in paths:  # cached, with ETags, before the stall
            request(self.web_port, "GET", path)
            before[path] = request(self.web_port, "GET", path)[0]
        results: list[Result] = []
        titles = {}
        log("(e) SIGSTOP Redis")
        os.kill(self.redis.proc.pid, signal.SIGSTOP)
        try:
            for pk in targets:
                title = f"Stalled edit {pk} {os.urandom(3).hex()}"
                result, _ = request(
                    self.web_port,
                    "PATCH",
                    f"/api/books/{pk}/",
                    {"title": title},
                    self.token,
                )
                results.append(result)
                if result.status == 200:
                    titles[pk] = title
        finally:
            log("(e) SIGCONT Redis, HUP gunicorn")
            os.kill(self.redis.proc.pid, signal.SIGCONT)
        self.web.proc.send_signal(signal.SIGHUP)
        # The bound runs from when the reloaded workers answer: a worker that is
        # still importing Django serves nothing, stale or fresh.
        time.sleep(0.5)
        wait_for(lambda: self.get("/healthz") == 200, 30, "reloaded workers")
        resumed = time.monotonic()
        outcome.acked_writes = len(titles)
        if len(titles) != len(targets):
            statuses = sorted({r.status for r in results})
            outcome.failures.append(f"writes during the stall got {statuses}")
        stale_after_bound = 0
        fresh_at = None
        deadline = resumed + FRESHNESS_BOUND + 3
        while time.monotonic() < deadline:
            checked_at = time.monotonic()
            reads = [
                request(self.web_port, "GET", f"/api/books/{pk}/")[0] for pk in titles
            ]
            results.extend(reads)
            fresh = all(
                r.status == 200 and json.loads(r.body)["title"] == titles[pk]
                for r, pk in zip(reads, titles, strict=True)
            )
            if fresh and fresh_at is None:
                fresh_at = checked_at - resumed
            if not fresh and checked_at - resumed > FRESHNESS_BOUND:
                stale_after_bound += 1
            time.sleep(0.1)
        self.stall_fresh_after = fresh_at
        if stale_after_bound:
            outcome.failures.append(
                f"{stale_after_bound} stale reads past the {FRESHNESS_BOUND:g} s bound"
            )
        if fresh_at is None:
            outcome.failures.append("the edits never showed")
        for path, old in before.items():
            if not old.etag:
                continue
            again, _ = request(
                self.web_port, "GET", path, headers={"If-None-Match": old.etag}
            )
            results.append(again)
            if again.status == 304:
                outcome.failures.append(
                    f"{path}: an ETag from before the stall got 304"
                )
        import psycopg

        with psycopg.connect(self.pg.url()) as conn:
            stored = dict(
                conn.execute(
                    "SELECT id, title FROM books_book WHERE id = ANY(%s)",
                    (list(titles),),
                ).fetchall()
            )
        outcome.lost_writes = sum(1 for pk, t in titles.items() if stored.get(pk) != t)
        if outcome.lost_writes:
            outcome.failures.append(f"{outcome.lost_writes} acknowledged writes lost")
        outcome.account(results)
        if outcome.server_errors or outcome.unavailable:
            outcome.failures.append("5xx around the stall")
        return outcome


def print_table(outcomes: list[Outcome]) -> None:
    header = (
        "scenario",
        "requests",
        "5xx",
        "503s",
        "acked writes",
        "lost writes",
        "max s",
        "result",
    )
    rows = [
        (
            o.scenario,
            str(o.requests),
            str(o.server_errors),
            str(o.unavailable),
            str(o.acked_writes),
            str(o.lost_writes),
            f"{o.max_seconds:.2f}",
            "PASS" if o.passed else "FAIL",
        )
        for o in outcomes
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out()
    out(line.format(*header))
    out(line.format(*("-" * w for w in widths)))
    for row in rows:
        out(line.format(*row))
    for o in outcomes:
        for failure in o.failures:
            out(f"  {o.scenario}: {failure}")
    out()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp dir and logs"
    )
    args = parser.parse_args(argv)
    missing = missing_tools()
    if missing:
        log("cannot run: missing " + ", ".join(missing))
        return 2

    def watchdog(signum, frame):
        raise TimeoutError(f"fault drill exceeded {DEADLINE} s")

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(DEADLINE)
    drill = Drill(keep=args.keep)
    outcomes: list[Outcome] = []
    began = time.monotonic()
    try:
        drill.setup()
        for scenario in (
            drill.redis_down,
            drill.postgres_down,
            drill.duplicate_isbn,
            drill.redis_stall,
            drill.sigterm,
        ):
            outcome = scenario()
            log(f"{outcome.scenario}: {'PASS' if outcome.passed else 'FAIL'}")
            outcomes.append(outcome)
    except Exception as exc:
        log(f"drill aborted: {type(exc).__name__}: {exc}")
        failed = Outcome("drill aborted", failures=[f"{type(exc).__name__}: {exc}"])
        outcomes.append(failed)
        tail = drill.web.log_text()[-3000:]
        if tail:
            out(tail)
    finally:
        signal.alarm(0)
        drill.teardown()
    print_table(outcomes)
    recovery = getattr(drill, "recovery_seconds", None)
    if recovery is not None:
        out(
            f"PostgreSQL recovery without restart: writes succeeded {recovery:.1f} s "
            "after the server was back"
        )
    if getattr(drill, "fast_503_p99", None) is not None:
        out(
            f"PostgreSQL down: 503 p99 {drill.fast_503_p99 * 1000:.0f} ms, "
            f"{drill.hits_during_outage} cache hits served during the outage"
        )
    if getattr(drill, "stall_fresh_after", None) is not None:
        out(
            f"Redis stall: edits visible {drill.stall_fresh_after:.1f} s after SIGCONT "
            f"and reload (bound {FRESHNESS_BOUND:.0f} s)"
        )
    out(f"total {time.monotonic() - began:.0f} s")
    return (
        0 if outcomes and all(o.passed for o in outcomes) and len(outcomes) == 5 else 1
    )


if __name__ == "__main__":
    sys.exit(main())
