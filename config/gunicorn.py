"""gunicorn settings: ``gunicorn -c config/gunicorn.py config.wsgi``.

Every value can be overridden from the environment (``GUNICORN_<NAME>`` or the usual
``WEB_CONCURRENCY`` / ``PORT`` / ``BIND``). Timeouts are ordered so that a stuck
database gives the client a fast 503 instead of a killed worker:

    statement_timeout (DB_STATEMENT_TIMEOUT_MS, 3 s), pool wait (DB_POOL_TIMEOUT, 0.5 s)
      < worker timeout (GUNICORN_TIMEOUT, 30 s) < the proxy's read timeout

and ``graceful_timeout`` stays inside the orchestrator's stop grace period (compose's
``stop_grace_period`` is 40 s).
"""

import glob
import multiprocessing
import os
import time

import gunicorn.http.wsgi


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


_cores = multiprocessing.cpu_count()

# --- Sockets --------------------------------------------------------------------------
bind = os.environ.get("GUNICORN_BIND") or os.environ.get("BIND")
if not bind:
    bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_int('PORT', 8000)}"
backlog = _int("GUNICORN_BACKLOG", 2048)

# --- Workers --------------------------------------------------------------------------
# gthread: a few processes for CPU parallelism, a few threads each to overlap database
# and cache I/O. Each process opens its own psycopg pool (DB_POOL_MAX_SIZE, default 8),
# so threads <= pool size, and workers x pool size must stay below max_connections.
# ASGI: GUNICORN_WORKER_CLASS=uvicorn_worker.UvicornWorker with config.asgi. Threads
# do not apply there: each request in flight gets its own thread for the sync stack,
# unbounded, so the pool is what bounds database work (a request that waits past
# DB_POOL_TIMEOUT for a connection is a 503); size DB_POOL_MAX_SIZE for the
# concurrency one worker should carry.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", _cores * 2 + 1))
threads = _int("GUNICORN_THREADS", 4)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then (leaks in third-party code); the jitter staggers the
# restarts so the workers never all restart at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# The pool must be created after fork: one pool per worker, never shared.
preload_app = False

# --- Timeouts -------------------------------------------------------------------------
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)

_statement_s = _float("DB_STATEMENT_TIMEOUT_MS", 3000) / 1000
_pool_wait_s = _float("DB_POOL_TIMEOUT", 0.5)
if not max(_statement_s, _pool_wait_s) < timeout:
    raise RuntimeError(
        "statement_timeout and the pool wait must both be below the worker timeout, "
        f"got {_statement_s} s and {_pool_wait_s} s against {timeout} s"
    )

# The heartbeat file is fchmod()ed on every loop: on a slow or overlay disk that can
# block long enough to get a healthy worker killed, so keep it in RAM.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
    "/dev/shm" if os.path.isdir("/dev/shm") else None
)

# --- Request limits (a 400 from gunicorn before Django sees anything) -----------------
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)

# --- Proxy ----------------------------------------------------------------------------
# Only these peers may set X-Forwarded-* for gunicorn (wsgi.url_scheme, REMOTE_ADDR).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logging --------------------------------------------------------------------------
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = os.environ.get("GUNICORN_ERRORLOG", "-")
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# %(M)s is the request time in milliseconds; the request id is the one the
# RequestIDMiddleware echoed, so access lines join up with application log lines.
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%(h)s "%(r)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s',
)

_debug = os.environ.get("DEBUG", "false").lower() in {"1", "true", "yes", "on"}
if os.environ.get("LOG_FORMAT", "plain" if _debug else "json") == "json":
    # The same JSON formatter as Django's logs, so one parser reads the whole stream.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "core.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json"},
            "error_console": {"class": "logging.StreamHandler", "formatter": "json"},
        },
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["error_console"],
                "propagate": False,
            },
            "gunicorn.access": {
                "level": "INFO",
                "handlers": ["console"],
                "propagate": False,
            },
        },
    }

proc_name = "bookshelf"

# --- Server header --------------------------------------------------------------------
# gunicorn answers every request with "Server: gunicorn" and has no setting to change
# or drop it. Its Response reads the module global SERVER for each response, and this
# file runs in the master before the workers fork, so setting it here names the
# service instead of the software that serves it (the version, gunicorn/<version>,
# only ever reaches the app's environ as SERVER_SOFTWARE).
gunicorn.http.wsgi.SERVER = os.environ.get("GUNICORN_SERVER_HEADER") or "bookshelf"

# --- Prometheus, several workers ------------------------------------------------------
# With PROMETHEUS_MULTIPROC_DIR set, each worker writes its metrics to files there and
# /metrics adds up every live worker's (core/metrics.py). Files left by an earlier run
# would be read as live workers' values, so the directory is emptied at start; a
# worker that exits is marked dead so its gauges leave the sums.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_METRIC_FILES = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


def on_starting(server) -> None:
    if _metrics_dir:
        os.makedirs(_metrics_dir, exist_ok=True)
        for pattern in _METRIC_FILES:
            for stale in glob.glob(os.path.join(_metrics_dir, pattern)):
                os.remove(stale)


def post_worker_init(worker) -> None:
    """Fill this worker's database pools, a connection per thread, before it serves.

    A fresh worker's pool holds DB_POOL_MIN_SIZE (1) connections; a burst of requests
    would each wait for a connect, and under load a connect outlasts DB_POOL_TIMEOUT
    (a 503 for a healthy database). The pools are opened here (Django opens one at
    its first connection) and grown; all of them together are waited for at most
    GUNICORN_POOL_FILL_TIMEOUT. A database that is down is not waited for longer: its
    pool stays open and keeps connecting in the background, and requests get their
    fast 503. (Not ``pool.wait()``: on a timeout it closes the pool for good.)
    """
    from django.db import connections

    deadline = time.monotonic() + _float("GUNICORN_POOL_FILL_TIMEOUT", 5.0)
    for connection in connections.all():
        pool = getattr(connection, "pool", None)  # None: SQLite, or no pool
        if pool is None:
            continue
        wanted = min(max(pool.min_size, threads), pool.max_size)
        pool.open()
        if wanted > pool.min_size:
            pool.resize(wanted, pool.max_size)
        while (ready := pool.get_stats()["pool_available"]) < wanted:
            if time.monotonic() >= deadline:
                worker.log.warning(
                    "database pool %r not filled at start: %d of %d connections; "
                    "it goes on connecting",
                    connection.alias,
                    ready,
                    wanted,
                )
                break
            time.sleep(0.01)


def child_exit(server, worker) -> None:
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


# gunicorn's runtime control socket (gunicornc) defaults to one fixed path per user, so
# two instances on a host would fight over it; on only when given a path.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
