"""books.cache.freshness: the database's catalogue version, published once per
transaction whatever wrote, and the sync that catches writes made behind Django's back.
"""

import time

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from books.cache import freshness
from books.cache.keys import generation_key
from books.models import Author, Book, Genre, Publisher, Review
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def publishes():
    """Every publish that moved the generation, in order."""
    seen = []

    def receiver(sender, version, **kwargs):
        seen.append(version)

    freshness.catalogue_published.connect(receiver)
    yield seen
    freshness.catalogue_published.disconnect(receiver)


def _rename_author(book):
    book.author.name = "Renamed"
    book.author.save()


def _raw_sql(book):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE books_book SET title = %s WHERE id = %s", ["Raw", book.pk]
        )


WRITES = {
    "book save": lambda book: book.save(),
    "author rename": _rename_author,
    "publisher save": lambda book: book.publisher.save(),
    "genre save": lambda book: book.genres.first().save(),
    "review add": lambda book: ReviewFactory(book=book),
    "review delete": lambda book: book.reviews.first().delete(),
    "book delete": lambda book: book.delete(),
    "genre removed": lambda book: book.genres.remove(book.genres.first()),
    "genres cleared": lambda book: book.genres.clear(),
    "new book": lambda book: BookFactory(author=book.author),
    "queryset update": lambda book: Book.objects.filter(pk=book.pk).update(pages=9),
    "bulk_create reviews": lambda book: Review.objects.bulk_create(
        [Review(book=book, reviewer="B", rating=2) for _ in range(3)]
    ),
    "bulk_update": lambda book: Book.objects.bulk_update(
        [Book(pk=book.pk, title="Bulk")], ["title"]
    ),
    "genre queryset update": lambda book: Genre.objects.filter(
        pk=book.genres.first().pk
    ).update(name="Renamed"),
    "raw SQL": _raw_sql,
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_every_write_path_moves_the_version_and_publishes_once_on_commit(
    write, book_factory, publishes, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    before = freshness.generation()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        WRITES[write](book)
    assert callbacks, "no publish was queued for the commit"
    assert freshness.read_version() > before  # the trigger, in the transaction
    assert freshness.generation() == freshness.read_version()
    assert publishes == [freshness.read_version()]


def test_a_transaction_of_many_statements_publishes_once(
    book_factory, publishes, django_capture_on_commit_callbacks
):
    books = book_factory(3, reviews_per_book=50)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        books[0].delete()  # its 50 reviews go with it
        for other in books[1:]:
            other.save()
        Book.objects.update(pages=100)
    assert len(publishes) == 1


def test_a_rolled_back_write_publishes_nothing(
    publishes, django_capture_on_commit_callbacks
):
    version = freshness.read_version()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                Publisher.objects.create(name="Gone")
                raise RuntimeError
        except RuntimeError:
            pass
    assert publishes == []
    assert freshness.read_version() == version  # the bump rolled back with the row


@pytest.mark.django_db(transaction=True)
def test_an_autocommit_write_publishes_at_once(publishes):
    Genre.objects.create(name="Poetry", slug="poetry")
    assert publishes == [freshness.read_version()]
    assert freshness.generation() == freshness.read_version()


def _without_watching():
    """Statements Django does not see: as if psql or another program sent them."""
    connection.execute_wrappers.remove(freshness._watch_writes)


def test_the_sync_publishes_a_write_django_did_not_see(book_factory, publishes):
    book = book_factory(1)[0]
    before = freshness.generation()
    _without_watching()
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE books_book SET pages = 7 WHERE id = %s", [book.pk])
    finally:
        freshness.watch_connection(connection)
    assert freshness.generation() == before  # nobody published it yet
    assert freshness.sync_once() > before
    assert freshness.generation() == freshness.read_version() > before
    assert freshness.sync_once() == freshness.generation()  # idempotent
    assert len(publishes) == 1


def test_a_lost_generation_is_read_back_from_the_database():
    cache.delete(generation_key())  # an eviction, a flush, a new Redis
    assert freshness.generation() == freshness.read_version()


def test_publishing_never_moves_the_generation_back():
    current = freshness.generation()
    assert freshness.publish(current - 5) is False
    assert freshness.generation() == current


def test_a_cache_ahead_of_the_database_moves_the_database_on():
    """A restored backup: its version must not name a catalogue the cache knows."""
    ahead = freshness.read_version() + 1000
    freshness.publish(ahead)
    assert freshness.sync_once() == ahead + 1
    assert freshness.generation() == freshness.read_version() == ahead + 1


def test_whoever_reads_the_generation_needs_replicas_that_replayed_it():
    """A page about to be cached under generation g must not be rendered from a
    replica still at g - 1 (core.db.router reads the scope's ``min_version``)."""
    from core.db import routing

    with routing.read_scope() as scope:
        current = freshness.generation()
        assert scope.min_version == current > 0
    cache.delete(generation_key())
    with routing.read_scope() as scope:
        current = freshness.generation()  # read back from the database
        assert scope.min_version == current
    with routing.read_scope() as scope:
        generation, _ = freshness.read_with_generation("resp:any")
        assert scope.min_version == generation


def test_a_deleted_version_row_is_made_again():
    from books.models import CatalogueVersion

    CatalogueVersion.objects.all().delete()
    assert freshness.read_version() > 0
    assert CatalogueVersion.objects.count() == 1


def test_writes_catalogue_recognises_what_the_orm_and_people_send():
    yes = [
        'INSERT INTO "books_review" ("book_id") VALUES (%s)',
        'UPDATE "books_book" SET "title" = %s',
        'DELETE FROM "books_book_genres" WHERE "book_id" IN (1)',
        'TRUNCATE "books_review", "books_book" RESTART IDENTITY CASCADE',
        "update books_author set name = 'x'",
    ]
    no = [
        'SELECT "books_book"."id" FROM "books_book"',
        'UPDATE "auth_user" SET "last_login" = %s',
        'INSERT INTO "django_session" VALUES (%s)',
        "UPDATE books_catalogueversion SET version = version + 1",
    ]
    assert all(freshness.writes_catalogue(sql) for sql in yes)
    assert not any(freshness.writes_catalogue(sql) for sql in no)


def test_author_and_genre_tables_are_all_watched():
    tables = {m._meta.db_table for m in (Author, Book, Genre, Publisher, Review)}
    assert tables | {Book.genres.through._meta.db_table} == freshness.CATALOGUE_TABLES


@pytest.fixture
def private_redis(tmp_path, settings):
    """The fault drill's throwaway redis-server, as the only cache: exact counts."""
    import os
    import shutil

    from tests import faults

    if not os.environ.get("REDIS_URL") or shutil.which("redis-server") is None:
        pytest.skip("service pass only (REDIS_URL set, redis-server on PATH)")
    server = faults.Redis(tmp_path, faults.free_port())
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "count-test",
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
        }
    }
    import redis

    yield redis.Redis(port=server.port)
    server.stop()


HANDSHAKE = {"HELLO", "CLIENT", "SELECT", "AUTH"}


def test_one_transaction_of_many_rows_is_one_redis_publish(
    private_redis, book_factory, django_capture_on_commit_callbacks
):
    """Every command the app sends to Redis, recorded by MONITOR (commands a Lua
    script runs inside Redis are the script's, not the app's)."""
    import threading

    doomed, *others = book_factory(101, reviews_per_book=0)
    ReviewFactory.create_batch(50, book=doomed)
    freshness.publish_current()
    sent: list[str] = []
    listening = threading.Event()

    def monitor() -> None:
        with private_redis.monitor() as stream:
            listening.set()
            for command in stream.listen():
                if command["command"] == "PING stop":
                    return
                name = command["command"].split()[0]
                # Lua's inner commands and connection handshakes are not the app's.
                if command.get("client_type") != "lua" and name not in HANDSHAKE:
                    sent.append(name)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    listening.wait(5)
    time.sleep(0.1)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        doomed.delete()  # and its 50 reviews
        Book.objects.filter(pk__in=[b.pk for b in others]).update(pages=42)
    private_redis.execute_command("PING", "stop")
    watcher.join(5)
    assert sent == ["EVAL"]  # one set-if-greater publish, nothing per row
    assert freshness.generation() == freshness.read_version()
