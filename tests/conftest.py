"""Fixtures shared by the whole suite."""

from importlib import import_module

import pytest
from django.core.cache import caches
from django.db import connection

from books.cache import freshness
from books.cache.local import local
from tests.factories import AuthorFactory, BookFactory, GenreFactory, ReviewFactory


def clear_cache(cache) -> None:
    """Empty one cache. On Redis, delete only this project's keys, never FLUSHDB."""
    client = getattr(cache, "client", None)
    if hasattr(client, "get_client"):
        raw = client.get_client(write=True)
        for key in raw.scan_iter(match=f"{cache.key_prefix}:*", count=1000):
            raw.delete(key)
    else:
        cache.clear()


DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences"}


@pytest.fixture(autouse=True)
def _clear_caches(request):
    """Each test starts and ends with empty caches, so nothing leaks between tests.

    Tests with a database then find the catalogue generation published, as a serving
    process does after its first read (``bench`` cold runs do the same): a cold cache
    means no entries, not an unknown catalogue version.
    """
    for cache in caches.all():
        clear_cache(cache)
    local.clear()
    marker = request.node.get_closest_marker("django_db")
    uses_db = (marker and marker.kwargs.get("databases") != []) or (
        DB_FIXTURES & set(request.fixturenames)
    )
    if uses_db:
        for name in DB_FIXTURES & set(request.fixturenames):
            request.getfixturevalue(name)
        freshness.publish_current()
    yield
    for cache in caches.all():
        clear_cache(cache)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Tests run without collectstatic, so {% static %} must not need the manifest.

    Production keeps core.storage.StaticStorage (WhiteNoise's compressed manifest);
    tests/books/test_views.py and tests/core/test_storage.py run collectstatic with
    it into a temporary STATIC_ROOT.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture
def debug(settings):
    """DEBUG on for one test, once the URLconf is loaded: imported under DEBUG,
    config/urls.py would mount the debug toolbar, which tests never install."""
    import_module(settings.ROOT_URLCONF)
    settings.DEBUG = True
    return settings


@pytest.fixture
def postgres(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")


@pytest.fixture
def redis_cache():
    from django.core.cache import cache

    if not hasattr(getattr(cache, "client", None), "get_client"):
        pytest.skip("needs Redis: run with REDIS_URL=redis://...")
    return cache


def make_books(count: int, reviews_per_book: int = 3) -> list:
    """``count`` books by two authors, each with two genres and some reviews."""
    authors = AuthorFactory.create_batch(2)
    genres = [GenreFactory(name="Fantasy"), GenreFactory(name="Crime")]
    books = []
    for i in range(count):
        book = BookFactory(author=authors[i % 2], genres=genres)
        ReviewFactory.create_batch(reviews_per_book, book=book, rating=1 + i % 5)
        books.append(book)
    return books


@pytest.fixture
def book_factory():
    return make_books


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py *args`` in a subprocess with ``env`` (a live server's settings);
    its standard output, or the test fails with its standard error."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def scratch_database(workdir, prefix: str):
    """A database of its own for a test's server subprocesses: a temp SQLite file, or
    a fresh PostgreSQL database on the test server. Returns ``(url, drop)``."""
    import subprocess
    import uuid

    if connection.vendor != "postgresql":
        return f"sqlite:///{workdir / f'{prefix}.sqlite3'}", lambda: None
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    base = connection.settings_dict

    def psql(sql: str) -> None:
        subprocess.run(
            ["psql", "-h", base["HOST"], "-p", str(base["PORT"]), "-U", base["USER"]]
            + ["-d", "postgres", "-q", "-c", sql],
            check=True,
            capture_output=True,
            timeout=30,
        )

    psql(f'CREATE DATABASE "{name}"')
    url = f"postgres://{base['USER']}@{base['HOST']}:{base['PORT']}/{name}"
    return url, lambda: psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
