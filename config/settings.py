"""Settings for every environment, driven by environment variables.

With no environment at all the project runs on SQLite and the local-memory cache and
needs no server. ``DATABASE_URL`` and ``REDIS_URL`` switch it to PostgreSQL (psycopg 3
with Django's native pool) and django-redis. See the README's table of variables.
"""

import datetime
import hashlib
import ipaddress
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default=None)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. For local use set DEBUG=true "
            "(what `make run` does), or use the make targets (`make bench`)."
        )
    SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, so that runserver serves static files like production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "books",
    "api",
    "bench",
]

MIDDLEWARE = [
    # First, so every response (even a 400 for a bad Host) carries the request id.
    "core.middleware.RequestIDMiddleware",
    # Latency, queries and cache results by view for /metrics; names the view for
    # slow-query log lines. Outside everything else, cache hits included.
    "core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside everything that renders HTML (the toolbar included), so the header it
    # writes carries the nonce of any template that asked for one.
    "csp.middleware.CSPMiddleware",
    # Before anything parses the request: NUL bytes and oversized bodies are a 400.
    "core.middleware.BadInputMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Server-Timing (db, cache, total) on every dynamic response; outside GZip so the
    # total includes compression.
    "core.middleware.ServerTimingMiddleware",
    "core.middleware.CacheStatusMiddleware",
    # Response headers every answer needs, cache hits included: above the front door.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Anonymous cache hits end here, in one cache round trip, pre-compressed: no
    # session, auth, CSRF, DRF or throttle work (books/cache/middleware.py).
    "books.cache.middleware.FrontDoorCacheMiddleware",
    # Compresses misses on their way out; hits were stored with their encodings.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# The toolbar monkey-patches Django when imported, so it is wired in only under DEBUG.
if DEBUG:
    INSTALLED_APPS.append("debug_toolbar")
    # After GZip, so the toolbar is injected into the HTML before it is compressed.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.gzip.GZipMiddleware") + 1,
        "debug_toolbar.middleware.DebugToolbarMiddleware",
    )
    INTERNAL_IPS = ["127.0.0.1"]
    # Collapsed: the page is what you came to see. The toolbar's own panels (8.0's
    # defaults) plus one that says whether the page came from the response cache,
    # and links to ?nocache=1, which bypasses it under DEBUG (books.cache.bypass).
    DEBUG_TOOLBAR_CONFIG = {"SHOW_COLLAPSED": True}
    DEBUG_TOOLBAR_PANELS = [
        "debug_toolbar.panels.history.HistoryPanel",
        "debug_toolbar.panels.versions.VersionsPanel",
        "debug_toolbar.panels.timer.TimerPanel",
        "core.toolbar.ResponseCachePanel",
        "debug_toolbar.panels.settings.SettingsPanel",
        "debug_toolbar.panels.headers.HeadersPanel",
        "debug_toolbar.panels.request.RequestPanel",
        "debug_toolbar.panels.sql.SQLPanel",
        "debug_toolbar.panels.staticfiles.StaticFilesPanel",
        "debug_toolbar.panels.templates.TemplatesPanel",
        "debug_toolbar.panels.alerts.AlertsPanel",
        "debug_toolbar.panels.cache.CachePanel",
        "debug_toolbar.panels.signals.SignalsPanel",
        "debug_toolbar.panels.tasks.TasksPanel",
        "debug_toolbar.panels.community.CommunityPanel",
        "debug_toolbar.panels.redirects.RedirectsPanel",
        "debug_toolbar.panels.profiling.ProfilingPanel",
    ]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
DB_STATEMENT_TIMEOUT_MS = env.int("DB_STATEMENT_TIMEOUT_MS", default=3000)
# How long a request waits for a pooled connection. Threads never outnumber the pool,
# so a wait means the database is unreachable: keep it short (the breaker then opens).
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=0.5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend plus a connect breaker: with the database down, requests get
    # their 503 in microseconds instead of each waiting the pool timeout.
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
    # Native psycopg 3 pool (one per process; size it >= gunicorn threads). Both the
    # pool wait and the statement timeout are far below gunicorn's worker timeout, so
    # a stuck database gives a fast error instead of a killed worker.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool replaces persistent connections
    # With a pool, Django passes ConnectionPool.check_connection: a dead connection is
    # replaced on checkout instead of failing the request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
            "timeout": DB_POOL_TIMEOUT,
        },
        "connect_timeout": 3,
        "options": f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run while a writer holds the lock; IMMEDIATE avoids the
        # "database is locked" upgrade deadlock between concurrent writers.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# --- Read replicas --------------------------------------------------------------------
# Unset: no router and no extra alias; every query goes to DATABASE_URL as before.
DATABASE_REPLICA_URLS = env.list("DATABASE_REPLICA_URLS", default=[])
# A replica that may be missing writes older than this leaves the rotation. Kept under
# the contract's 2 s promise to other readers for reads the cache does not guard (the
# cache's own fills also wait for the replica to replay their generation).
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=1.0)
# Each process checks its replicas this often (0 = never: no replica ever serves).
REPLICA_MONITOR_SECONDS = env.float("REPLICA_MONITOR_SECONDS", default=0.5)
# After a write its client reads from the primary this long: longer than any serving
# replica may trail, plus a margin for clocks (core.db.middleware).
REPLICA_PIN_SECONDS = env.float(
    "REPLICA_PIN_SECONDS", default=REPLICA_MAX_LAG_SECONDS + 1.0
)
REPLICA_DATABASES: list[str] = []
if DATABASE_REPLICA_URLS:
    if DATABASES["default"]["ENGINE"] != "core.db.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs a PostgreSQL primary.")
    # Each alias names itself to the server: pg_stat_activity shows who reads where.
    DATABASES["default"]["OPTIONS"]["application_name"] = "bookshelf-default"
    for number, url in enumerate(DATABASE_REPLICA_URLS, start=1):
        alias = f"replica{number}"
        replica = env.db_url_config(url)
        if replica["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfigured(f"{alias}: replicas must be PostgreSQL URLs.")
        DATABASES[alias] = {
            **replica,
            # The primary's engine (connect breaker), pool, timeouts and health checks.
            **{
                k: DATABASES["default"][k]
                for k in ("ENGINE", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")
            },
            "OPTIONS": {
                **DATABASES["default"]["OPTIONS"],
                "pool": dict(DATABASES["default"]["OPTIONS"]["pool"]),
                "application_name": f"bookshelf-{alias}",
            },
            # Tests read the test database through it (the router sends test reads to
            # the primary anyway: the monitor is off under pytest).
            "TEST": {"MIRROR": "default"},
        }
        REPLICA_DATABASES.append(alias)
    DATABASE_ROUTERS = ["core.db.router.ReplicaRouter"]
    # After sessions (a login's new session key is what it pins), before anything
    # reads the database.
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1,
        "core.db.middleware.ReplicaMiddleware",
    )

# A statement this slow (ms) is logged to core.db.slow with its fingerprint, view and
# request id (core/db/instrument.py); below 0 turns it off.
SLOW_QUERY_MS = env.float("SLOW_QUERY_MS", default=200.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------

REDIS_URL = env("REDIS_URL", default="")
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))


def _static_release() -> str:
    """A short hash of the collected static manifest ("dev" before collectstatic)."""
    try:
        manifest = (STATIC_ROOT / "staticfiles.json").read_bytes()
    except OSError:
        return "dev"
    return hashlib.blake2b(manifest, digest_size=4).hexdigest()


# Cached pages name hashed static files; the cache outlives a deploy, the old files
# may not. Keys carry the release, so a deploy with new static files starts afresh.
CACHE_RELEASE = env("CACHE_RELEASE", default=_static_release())
CACHE_KEY_PREFIX = f"bookshelf:{CACHE_RELEASE}"

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "PARSER_CLASS": "redis.connection._HiredisParser",
                # Fail fast and degrade to the database when Redis is down.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": 50,
                    "health_check_interval": 30,
                },
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "django_redis.cache"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "bookshelf",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": 300,
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

# --- Celery ---------------------------------------------------------------------------

# After a catalogue write commits, queue one task that re-renders the hottest pages.
CACHE_WARM_AFTER_WRITES = env.bool("CACHE_WARM_AFTER_WRITES", default=True)
# Every serving process re-reads the catalogue version this often and publishes it
# when the cache is behind (books.cache.freshness): the bound on staleness for writes
# made outside this project's processes (psql, a dead writer, a stalled Redis).
CATALOGUE_SYNC_SECONDS = env.float("CATALOGUE_SYNC_SECONDS", default=1.0)
# The in-process L1 in front of Redis (books.cache.local): how long a process trusts
# its copy of the generation (0 turns the L1 off; the freshness bound grows by this
# much), and how many bytes of responses it keeps.
CACHE_LOCAL_SECONDS = env.float("CACHE_LOCAL_SECONDS", default=0.5)
CACHE_LOCAL_MAX_BYTES = env.int("CACHE_LOCAL_MAX_BYTES", default=32 * 1024 * 1024)

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
# Without a broker, tasks run in-process so that the embedded default needs no server.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL == "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True

# One idempotent beat job (the figures behind /api/stats/); the rest of the tasks are
# enqueued after commits.
CATALOGUE_STATS_EVERY = env.float("CATALOGUE_STATS_EVERY", default=300.0)
CELERY_BEAT_SCHEDULE = {
    "refresh-catalogue-stats": {
        "task": "books.tasks.refresh_catalogue_stats",
        "schedule": CATALOGUE_STATS_EVERY,
        # A stats refresh queued behind an outage is worthless once the next is due.
        "options": {"expires": CATALOGUE_STATS_EVERY},
    },
}
# A broker outage must cost a request milliseconds, not seconds: publish retries are
# few and short, and the sender logs the failure (books.tasks.BookshelfTask).
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
# Workers log through LOGGING below (JSON in production), not Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.2,
}

# --- Security -------------------------------------------------------------------------
# One switch, SECURE_HTTPS, says the site is served over HTTPS (directly or by a TLS
# proxy): it turns on the SSL redirect, HSTS and Secure cookies. It is off by default so
# that `make serve` works on plain http://127.0.0.1. X-Forwarded-Proto is trusted only
# with SECURE_PROXY_SSL_HEADER=true: only behind a proxy that overwrites that header.
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE_HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_HTTPS)
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=31_536_000 if SECURE_HTTPS else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HTTPS
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HTTPS)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Proxies in front of the app. The client address (throttles, login lockouts) is the
# one that many hops back in X-Forwarded-For: the hop our own proxy appended, which a
# client cannot forge. 0: REMOTE_ADDR, and X-Forwarded-For is ignored.
NUM_PROXIES = env.int(
    "NUM_PROXIES", default=0
)  # probes speak plain HTTP inside the network
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): everything from this origin, no inline script
# or style unless the template marks it with the request's nonce (NONCE appears in the
# header only on responses that used one). Views that need more say so themselves:
# the Swagger docs (api/urls.py), the browsable API (api/renderers.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)

# Who may read /metrics besides staff: addresses or networks (comma separated), for
# a Prometheus that scrapes directly (a request relayed by a proxy never qualifies).
METRICS_ALLOWED_IPS = env.list(
    "METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"] if DEBUG else []
)

# --- Auth, i18n, static ---------------------------------------------------------------

_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # WhiteNoise's hashed + gzip + Brotli files, made in seconds instead of 40.
    "staticfiles": {"BACKEND": "core.storage.StaticStorage"},
}

LOGIN_URL = "admin:login"

# Password guessing (admin login): django-axes checks every authenticate() call that
# carries a request. After 5 failures for one username from one address, that pair
# is locked out for 15 minutes, right password or not (429). Attempts live in the
# database, not the cache: a cache outage must not switch the lockout off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address the throttles use (NUM_PROXIES hops back), so rotating X-Forwarded-For
# cannot dodge the lockout. Axes would otherwise use django-ipware when installed
# (AXES_IPWARE_*), with rules of its own.
AXES_CLIENT_IP_CALLABLE = "core.http.client_ip"

# --- Django REST framework ------------------------------------------------------------

# API tokens (`Authorization: Token <key>`) are refused this many days after they were
# made; `manage.py rotate_tokens` replaces them (api.authentication).
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)
# A process remembers a checked token this long instead of querying it again (a
# rotated or deleted key may keep working that long on such a process).
API_TOKEN_CACHE_SECONDS = env.float("API_TOKEN_CACHE_SECONDS", default=5.0)
if API_TOKEN_TTL_DAYS < 1:
    raise ImproperlyConfigured("API_TOKEN_TTL_DAYS must be 1 or more.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly"
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # orjson for JSON responses; the browsable API stays for humans.
    "DEFAULT_RENDERER_CLASSES": [
        "api.renderers.ORJSONRenderer",
        "api.renderers.BrowsableAPIRenderer",
    ],
    # JSON, and plain HTML-form encoding. No multipart: nothing here takes a file,
    # and Django streams multipart uploads to disk past any body-size check.
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    # Keyset pagination everywhere (no COUNT); lookup lists opt out per view.
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # Throttle counters live in the default cache. With Redis down, django-redis's
    # IGNORE_EXCEPTIONS makes every counter read empty, so throttling silently stops
    # and requests are served: chosen over turning a cache outage into 500s.
    # The site's own requests (cache warming) are never throttled (api.throttles).
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttles.AnonRateThrottle",
        "api.throttles.UserRateThrottle",
        "api.throttles.ScopedRateThrottle",
    ],
    # Per client address (anonymous) or user. Generous for people; load tests from
    # one address (wrk, `bench --url`) raise them via the environment. In-process
    # `bench` gives every request its own address, so it never meets them. `naive`
    # is the views with `throttle_scope = "naive"`: hundreds of queries a request.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="1000/min"),
        "user": env("API_THROTTLE_USER", default="5000/min"),
        "naive": env("API_THROTTLE_NAIVE", default="60/min"),
    },
    # Throttles key on the client address NUM_PROXIES hops back in X-Forwarded-For
    # (see NUM_PROXIES), so a client cannot reset its limit by rotating it.
    "NUM_PROXIES": NUM_PROXIES,
}

# --- Load tests -----------------------------------------------------------------------
# LOAD_TEST=true lifts every DRF throttle (anon, user and any scoped rate) so that
# `bench --url`, wrk or `make perf` measure the app, not a 429 from one client address.
# Rates become None, not a huge number: DRF then skips the throttle, whereas a rate
# like 10**9/min still keeps a per-address history in the cache that grows with every
# request in the window. A server without throttles must not be reachable by others,
# so the switch is refused unless DEBUG is on or the server binds loopback only.


def _binds_loopback_only() -> bool:
    """Whether the bind address is loopback, computed as config/gunicorn.py does."""
    bind = env("GUNICORN_BIND", default="") or env("BIND", default="")
    if not bind:
        bind = f"{env('HOST', default='127.0.0.1')}:{env('PORT', default='8000')}"
    if bind.startswith("unix:"):
        return True  # a socket file: no network peer reaches it
    host = bind.rpartition(":")[0] if ":" in bind else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or 0.0.0.0-style wildcard: not provably local


LOAD_TEST = env.bool("LOAD_TEST", default=False)
if LOAD_TEST:
    if not (DEBUG or _binds_loopback_only()):
        raise ImproperlyConfigured(
            "LOAD_TEST=true turns every API throttle off, so it is refused unless the "
            "server binds loopback only (HOST/BIND/GUNICORN_BIND 127.0.0.1 or ::1) "
            "or DEBUG is on."
        )
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(
        REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    )

SPECTACULAR_SETTINGS = {
    "TITLE": "Bookshelf API",
    "DESCRIPTION": "Books and authors, tuned and naive: a Django performance showcase.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every status each operation can answer, the ladder's paths, no-NUL text.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess",
    ],
}

# --- bench ----------------------------------------------------------------------------

# The budgets both `manage.py bench --budget` and the query-count tests read.
BENCH_BUDGETS = BASE_DIR / "config" / "budgets.toml"
# The HTML report `make bench` writes and, under DEBUG only, /bench/ serves.
BENCH_REPORT = BASE_DIR / env("BENCH_REPORT", default="bench-report.html")

# --- Logging --------------------------------------------------------------------------

# JSON lines in production (default when DEBUG is off), plain text for humans in dev.
# Every record carries the request id (core.middleware.RequestIDMiddleware).
LOG_FORMAT = env("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIDFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        },
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
    },
}
