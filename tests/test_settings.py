"""Settings switch on the environment alone: embedded default vs PostgreSQL + Redis."""

import json
import os
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.faults import SERVICE_VARIABLES, child_environ

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "d = s.DATABASES['default']; c = s.CACHES['default']; "
    "print(json.dumps({'engine': d['ENGINE'], 'options': sorted(d.get('OPTIONS', {})), "
    "'cache': c['BACKEND'], 'eager': s.CELERY_TASK_ALWAYS_EAGER, "
    "'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, "
    "'toolbar': 'debug_toolbar' in s.INSTALLED_APPS}))"
)


def run_settings(
    script: str, drop: Collection[str], **env: str
) -> subprocess.CompletedProcess:
    """``python -c script`` with the project's settings, in this environment less
    ``drop``, plus ``env``."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **child_environ(drop),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **env,
        },
        capture_output=True,
        text=True,
    )


def probe(**env: str) -> dict:
    result = run_settings(PROBE, SERVICE_VARIABLES | {"DEBUG"}, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_default_is_sqlite_locmem_and_eager_celery():
    found = probe(SECRET_KEY="x")
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert (
        found["eager"] is True and found["debug"] is False and found["toolbar"] is False
    )


def test_urls_switch_to_pooled_postgres_and_django_redis():
    found = probe(
        SECRET_KEY="x",
        DATABASE_URL="postgres://root@127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    assert found["engine"] == "core.db.postgresql"  # Django's, plus a connect breaker
    assert {"pool", "options", "connect_timeout"} <= set(found["options"])
    assert found["cache"] == "django_redis.cache.RedisCache"
    assert found["broker"] == "redis://127.0.0.1:6379/0" and found["eager"] is False


def test_broker_can_be_overridden_separately():
    found = probe(
        SECRET_KEY="x",
        REDIS_URL="redis://h:6379/0",
        CELERY_BROKER_URL="amqp://guest@127.0.0.1:5672//",
    )
    assert found["broker"].startswith("amqp://") and found["eager"] is False


def test_secret_key_is_required_when_debug_is_off():
    result = run_settings(PROBE, {"SECRET_KEY"}, DEBUG="false")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_debug_installs_the_toolbar_with_a_dev_key():
    result = run_settings(PROBE, {"SECRET_KEY"}, DEBUG="true")
    assert json.loads(result.stdout)["toolbar"] is True


def test_tests_never_load_the_toolbar():
    assert "debug_toolbar" not in settings.INSTALLED_APPS


@pytest.mark.django_db
def test_redis_round_trip_through_the_django_redis_client(redis_cache):
    from django_redis import get_redis_connection

    redis_cache.set("roundtrip", {"a": 1}, 30)
    assert redis_cache.get("roundtrip") == {"a": 1}
    raw = get_redis_connection("default")
    assert raw.ttl(redis_cache.make_key("roundtrip")) > 0


@pytest.mark.django_db
def test_database_vendor_matches_database_url():
    expected = (
        "postgresql"
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else "sqlite"
    )
    assert connection.vendor == expected


def _cache_prefix(**env: str) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CACHES['default']['KEY_PREFIX'])"
    )
    result = run_settings(code, (), **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cache_keys_change_with_the_collected_static_files(tmp_path):
    """Cached pages name hashed static files: a new release must not serve old ones."""
    (tmp_path / "staticfiles.json").write_text('{"paths": {"css/site.css": "a"}}')
    first = _cache_prefix(STATIC_ROOT=str(tmp_path))
    assert first == _cache_prefix(STATIC_ROOT=str(tmp_path))
    (tmp_path / "staticfiles.json").write_text('{"paths": {"css/site.css": "b"}}')
    second = _cache_prefix(STATIC_ROOT=str(tmp_path))
    assert first.startswith("bookshelf:") and second.startswith("bookshelf:")
    assert first != second
    assert _cache_prefix(STATIC_ROOT=str(tmp_path / "none")) == "bookshelf:dev"
    assert _cache_prefix(CACHE_RELEASE="v42") == "bookshelf:v42"


# --- Read replicas --------------------------------------------------------------------

REPLICA_PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'aliases': list(s.DATABASES), 'routers': s.DATABASE_ROUTERS, "
    "'middleware': s.MIDDLEWARE, 'replicas': s.REPLICA_DATABASES, "
    "'databases': s.DATABASES, 'max_lag': s.REPLICA_MAX_LAG_SECONDS, "
    "'pin': s.REPLICA_PIN_SECONDS}, default=str))"
)
PRIMARY = "postgres://root@127.0.0.1:5432/bookshelf"


def replica_probe(**env: str) -> subprocess.CompletedProcess:
    drop = {"DATABASE_URL", "DATABASE_REPLICA_URLS", "REPLICA_MAX_LAG_SECONDS"}
    return run_settings(REPLICA_PROBE, drop, SECRET_KEY="x", **env)


# --- LOAD_TEST: every throttle off, for a server on loopback only ---------------------

RATES = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']))"
)
BIND_VARIABLES = {"HOST", "PORT", "BIND", "GUNICORN_BIND", "LOAD_TEST", "DEBUG"}


def _rates(**env: str) -> subprocess.CompletedProcess:
    return run_settings(RATES, BIND_VARIABLES, SECRET_KEY="x", **env)


def test_without_replica_urls_there_is_no_router_and_no_extra_alias():
    for database_url in (PRIMARY, "sqlite:///x.sqlite3"):
        found = json.loads(replica_probe(DATABASE_URL=database_url).stdout)
        assert found["aliases"] == ["default"] and found["replicas"] == []
        assert found["routers"] == []
        assert "core.db.middleware.ReplicaMiddleware" not in found["middleware"]
        assert "application_name" not in found["databases"]["default"]["OPTIONS"]


def test_replica_urls_add_mirrored_aliases_with_the_primary_s_pool_and_a_router():
    done = replica_probe(
        DATABASE_URL=PRIMARY,
        DATABASE_REPLICA_URLS="postgres://ro@10.0.0.2:5432/bookshelf,"
        "postgres://ro@10.0.0.3:6432/bookshelf",
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["aliases"] == ["default", "replica1", "replica2"]
    assert found["replicas"] == ["replica1", "replica2"]
    assert found["routers"] == ["core.db.router.ReplicaRouter"]
    middleware = found["middleware"]
    sessions = middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert middleware[sessions + 1] == "core.db.middleware.ReplicaMiddleware"
    primary = found["databases"]["default"]
    second = found["databases"]["replica2"]
    assert (second["HOST"], second["PORT"], second["USER"]) == ("10.0.0.3", 6432, "ro")
    assert second["ENGINE"] == primary["ENGINE"] == "core.db.postgresql"
    assert second["TEST"]["MIRROR"] == "default"
    assert second["OPTIONS"]["pool"] == primary["OPTIONS"]["pool"]
    assert second["OPTIONS"]["options"] == primary["OPTIONS"]["options"]
    assert second["OPTIONS"]["application_name"] == "bookshelf-replica2"
    assert primary["OPTIONS"]["application_name"] == "bookshelf-default"
    # The documented defaults: 1 s of lag at most, a 2 s read-your-writes window.
    assert (found["max_lag"], found["pin"]) == (1.0, 2.0)


def test_replicas_need_a_postgresql_primary_and_postgresql_urls():
    done = replica_probe(
        DATABASE_URL="sqlite:///x.sqlite3",
        DATABASE_REPLICA_URLS="postgres://ro@10.0.0.2:5432/bookshelf",
    )
    assert done.returncode != 0 and "PostgreSQL primary" in done.stderr
    done = replica_probe(
        DATABASE_URL=PRIMARY, DATABASE_REPLICA_URLS="mysql://ro@10.0.0.2/bookshelf"
    )
    assert done.returncode != 0 and "replicas must be PostgreSQL" in done.stderr


def test_load_test_lifts_every_throttle_rate():
    normal = json.loads(_rates().stdout)
    lifted = _rates(LOAD_TEST="true")  # HOST defaults to 127.0.0.1, as in gunicorn.py
    assert lifted.returncode == 0, lifted.stderr
    rates = json.loads(lifted.stdout)
    assert rates.keys() == normal.keys() and {"anon", "user"} <= rates.keys()
    assert set(rates.values()) == {None}  # DRF skips a throttle whose rate is None


@pytest.mark.parametrize(
    "env",
    [
        {"HOST": "::1"},
        {"BIND": "127.0.0.1:9000"},
        {"GUNICORN_BIND": "[::1]:8000", "HOST": "0.0.0.0"},  # gunicorn reads it first
        {"BIND": "unix:/tmp/bookshelf.sock"},
        {"HOST": "localhost"},
        {"DEBUG": "true", "HOST": "0.0.0.0"},
    ],
)
def test_load_test_is_allowed_on_loopback_or_under_debug(env):
    result = _rates(LOAD_TEST="true", **env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"HOST": "0.0.0.0"},
        {"BIND": "0.0.0.0:8000"},
        {"GUNICORN_BIND": "bookshelf.example:80"},
        {"HOST": "192.0.2.10"},
    ],
)
def test_load_test_is_refused_on_a_reachable_address(env):
    result = _rates(LOAD_TEST="true", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "loopback" in result.stderr


def test_a_reachable_address_keeps_its_throttles_without_load_test():
    assert _rates(HOST="0.0.0.0").returncode == 0
