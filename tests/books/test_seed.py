"""``manage.py seed``: deterministic, realistic, coherent, counted."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from books.models import Author, Book, Genre, Publisher, Review, validate_isbn13
from books.seeding import SENTENCES, birthday

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = StringIO()
    call_command("seed", stdout=out, **options)
    return out.getvalue()


def snapshot() -> dict:
    return {
        "books": list(
            Book.objects.order_by("pk").values_list(
                "pk",
                "title",
                "isbn",
                "author_id",
                "publisher_id",
                "published",
                "pages",
                "price",
                "description",
                "created",
            )
        ),
        "genres": list(
            Book.genres.through.objects.order_by("book_id", "genre_id").values_list(
                "book_id", "genre_id"
            )
        ),
        "authors": list(
            Author.objects.order_by("pk").values_list("pk", "name", "born")
        ),
        "reviews": list(
            Review.objects.order_by("pk").values_list(
                "book_id", "reviewer", "rating", "body", "created"
            )
        ),
    }


def test_seed_creates_the_requested_counts():
    output = seed(books=120, authors=15, seed=1)
    assert Book.objects.count() == 120
    assert Author.objects.count() == 15
    assert Publisher.objects.exists() and Genre.objects.exists()
    assert 3 <= Review.objects.count() / 120 <= 7  # about five per book
    assert "Seeded 120 books" in output


def test_same_seed_gives_the_same_rows():
    seed(books=60, seed=7, reset=True)
    first = snapshot()
    seed(books=60, seed=7, reset=True)
    assert snapshot() == first


def test_different_seed_gives_different_rows():
    seed(books=60, seed=7, reset=True)
    first = snapshot()
    seed(books=60, seed=8, reset=True)
    assert snapshot()["books"] != first["books"]


def test_seeded_data_is_valid_and_realistic():
    seed(books=200, seed=3)
    for isbn in Book.objects.values_list("isbn", flat=True):
        validate_isbn13(isbn)
    years = {d.year for d in Book.objects.values_list("published", flat=True)}
    assert max(years) - min(years) > 60  # spread over a century
    per_book = {b.genres.count() for b in Book.objects.prefetch_related("genres")}
    assert per_book <= {1, 2, 3}
    assert set(Review.objects.values_list("rating", flat=True)) <= {1, 2, 3, 4, 5}


def test_seed_appends_without_reset_and_keeps_ids_unique():
    seed(books=30, seed=1)
    seed(books=30, seed=2)
    assert Book.objects.count() == 60
    assert Book.objects.values("isbn").distinct().count() == 60


def test_if_empty_skips_a_seeded_database():
    seed(books=10, seed=1)
    assert "not seeding" in seed(books=10, seed=1, if_empty=True)
    assert Book.objects.count() == 10


def test_writes_after_seeding_get_fresh_ids(book_factory):
    seed(books=10, seed=1)
    assert book_factory(1)[0].pk == 11


def test_bad_arguments_are_a_command_error():
    with pytest.raises(CommandError):
        seed(books=-1)


def test_seeding_invalidates_cached_responses(
    client, django_capture_on_commit_callbacks
):
    seed(books=5, seed=1)
    assert client.get("/api/books/")["X-Cache"] == "MISS"
    assert client.get("/api/books/")["X-Cache"] == "HIT"
    with django_capture_on_commit_callbacks(execute=True):
        seed(books=5, seed=2)
    response = client.get("/api/books/")
    assert response["X-Cache"] == "MISS"
    assert len(response.json()["results"]) == 10


def test_every_book_is_published_between_its_author_s_18th_and_90th_birthdays():
    """Authors born in 1960 had books from 1928; now no one publishes as a child."""
    seed(books=400, authors=50, seed=5)
    rows = Book.objects.values_list("published", "author__born")

    dated = [(published, born) for published, born in rows if born is not None]
    assert len(dated) > 300  # about one author in ten has no known birth date
    early = [
        (published, born)
        for published, born in dated
        if published < birthday(born, 18) or published > birthday(born, 90)
    ]
    assert early == []
    undated = [published for published, born in rows if born is None]
    assert all(date(1925, 1, 1) <= published for published in undated)


def test_a_29_february_birthday_comes_of_age_on_28_february():
    assert birthday(date(2004, 2, 29), 18) == date(2022, 2, 28)
    assert birthday(date(2004, 2, 29), 20) == date(2024, 2, 29)


def test_bios_read_like_author_bios_not_book_blurbs():
    seed(books=80, authors=40, seed=9)

    for name, bio, born in Author.objects.values_list("name", "bio", "born"):
        surname = name.split()[-1]
        assert bio.startswith((name, "Born in")) and surname in bio, bio
        assert not any(blurb in bio for blurb in SENTENCES), bio
        if born:
            assert str(born.year) in bio


def test_progress_covers_every_table():
    output = seed(books=50, authors=10, seed=2)

    for table in ("authors", "books", "genre links", "reviews"):
        assert table in output
    assert "10/10" in output and "50/50" in output
