"""books.services: the only write path. Validation, atomicity, conflicts."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from books import services
from books.models import Author, Book, Review, isbn13_check_digit
from tests.factories import AuthorFactory, BookFactory, GenreFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(django_user_model):
    return django_user_model.objects.create_user("reader")


def isbn(n: int) -> str:
    first12 = f"979{n:09d}"
    return first12 + isbn13_check_digit(first12)


def create(**overrides) -> Book:
    fields = {
        "title": "Kindred",
        "isbn": isbn(7),
        "author": AuthorFactory(),
        "published": datetime.date(1979, 6, 1),
        "pages": 264,
        "price": Decimal("15.00"),
    }
    return services.book_create(**(fields | overrides))


def test_book_create_saves_book_and_genres():
    genres = [GenreFactory(name="Science Fiction"), GenreFactory(name="Classics")]
    book = create(genres=genres)
    assert Book.objects.get().pk == book.pk
    assert set(book.genres.all()) == set(genres)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"isbn": "9790000000000"}, "isbn"),
        ({"isbn": "97900000000"}, "isbn"),
        ({"pages": 0}, "__all__"),
        ({"price": Decimal("0")}, "__all__"),
        ({"title": ""}, "title"),
    ],
)
def test_book_create_runs_full_clean(overrides, field):
    with pytest.raises(ValidationError) as caught:
        create(**overrides)
    assert field in caught.value.message_dict
    assert not Book.objects.exists()


def test_duplicate_isbn_is_a_validation_error():
    create()
    with pytest.raises(ValidationError) as caught:
        create()
    assert "isbn" in caught.value.message_dict
    assert Book.objects.count() == 1


def test_lost_isbn_race_is_a_validation_error_not_integrity_error():
    """Two requests can both pass full_clean(); the unique index decides, and the
    loser must see a ValidationError (HTTP 400), with the transaction still usable."""
    existing = BookFactory()
    loser = Book(
        title="Race",
        isbn=existing.isbn,
        author=existing.author,
        published=existing.published,
        pages=1,
        price=Decimal("1.00"),
    )
    with pytest.raises(ValidationError) as caught:
        services._save_book(loser)  # what remains after full_clean() passed
    assert caught.value.message_dict == {"isbn": [services.DUPLICATE_ISBN]}
    assert Book.objects.count() == 1


def test_book_update_changes_fields_and_replaces_genres():
    book = BookFactory(genres=[GenreFactory(name="Crime")])
    poetry = GenreFactory(name="Poetry")
    services.book_update(book=book, data={"title": "New", "genres": [poetry]})
    book.refresh_from_db()
    assert book.title == "New"
    assert list(book.genres.all()) == [poetry]


def test_book_update_validates_and_leaves_the_row_alone():
    book = BookFactory(title="Old")
    with pytest.raises(ValidationError):
        services.book_update(book=book, data={"title": "New", "isbn": "123"})
    book.refresh_from_db()
    assert book.title == "Old"


def test_book_delete_cascades_to_reviews(reader):
    book = BookFactory()
    services.review_add(book=book, user=reader, rating=3)
    services.book_delete(book=book)
    assert not Book.objects.exists()
    assert not Review.objects.exists()


@pytest.mark.parametrize("rating", [0, 6])
def test_review_add_checks_the_rating(reader, rating):
    book = BookFactory()
    with pytest.raises(ValidationError):
        services.review_add(book=book, user=reader, rating=rating)
    assert not Review.objects.exists()


def test_review_add_writes_as_the_user(reader):
    review = services.review_add(book=BookFactory(), user=reader, rating=5, body="")
    assert Review.objects.get() == review
    assert (review.user, review.reviewer) == (reader, "reader")


def test_reviewer_name_is_the_full_name_else_the_username(django_user_model):
    ann = django_user_model(username="ann", first_name="Ann", last_name="Leckie")
    assert services.reviewer_name(ann) == "Ann Leckie"
    assert services.reviewer_name(django_user_model(username="bob")) == "bob"
    long = django_user_model(username="x", first_name="A" * 150, last_name="B" * 150)
    assert len(services.reviewer_name(long)) == 100  # Review.reviewer's max_length


def test_review_update_changes_only_what_is_given(reader):
    review = ReviewFactory(user=reader, rating=2, body="Meh.")
    updated = services.review_update(review=review, rating=4)
    review.refresh_from_db()
    assert (updated.rating, review.rating, review.body) == (4, 4, "Meh.")
    services.review_update(review=review, body="Better on a reread.")
    review.refresh_from_db()
    assert (review.rating, review.body) == (4, "Better on a reread.")


def test_review_update_validates_and_leaves_the_row_alone():
    review = ReviewFactory(rating=3)
    with pytest.raises(ValidationError):
        services.review_update(review=review, rating=9)
    review.refresh_from_db()
    assert review.rating == 3


def test_review_update_does_not_resurrect_a_deleted_review():
    """A stale instance (deleted by someone else meanwhile) is not saved back."""
    review = ReviewFactory()
    Review.objects.filter(pk=review.pk).delete()
    with pytest.raises(Review.DoesNotExist):
        services.review_update(review=review, rating=5)
    assert not Review.objects.exists()


def test_review_delete():
    review = ReviewFactory()
    services.review_delete(review=review)
    assert not Review.objects.exists()


def test_seeded_reviews_keep_their_name_without_a_user():
    review = ReviewFactory(reviewer="Seeded Reader")
    assert (review.user, review.reviewer) == (None, "Seeded Reader")


def test_author_create_update_delete():
    author = services.author_create(name="Ann Leckie", country="USA")
    services.author_update(author=author, data={"bio": "Ancillary."})
    assert Author.objects.get().bio == "Ancillary."
    services.author_delete(author=author)
    assert not Author.objects.exists()


def test_author_create_validates():
    with pytest.raises(ValidationError):
        services.author_create(name="")


def test_author_delete_with_books_is_a_conflict():
    author = AuthorFactory()
    BookFactory(author=author)
    with pytest.raises(services.Conflict, match="still has 1 book;"):
        services.author_delete(author=author)
    assert Author.objects.filter(pk=author.pk).exists()


# --- book_reprice: one statement ------------------------------------------------------


def _prices(books: list[Book]) -> dict[int, Decimal]:
    return {book.pk: Decimal(f"{10 + i}.{i % 100:02d}") for i, book in enumerate(books)}


def _current_prices() -> dict[int, Decimal]:
    return dict(Book.objects.values_list("pk", "price"))


def test_book_reprice_gives_what_bulk_update_gives():
    books = BookFactory.create_batch(30)
    prices = _prices(books[:25])
    with transaction.atomic():
        for book in books[:25]:
            book.price = prices[book.pk]
        assert Book.objects.bulk_update(books[:25], ["price"]) == 25
        expected = _current_prices()
        transaction.set_rollback(True)

    assert services.book_reprice(prices=prices) == 25

    assert _current_prices() == expected
    assert expected[books[0].pk] == Decimal("10.00")  # the prices did change


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The SQL sent, less the SAVEPOINTs ``atomic()`` adds inside a test's transaction
    (outside one it is a plain transaction: no statement of its own)."""
    sqls = [query["sql"] for query in captured.captured_queries]
    return [sql for sql in sqls if "SAVEPOINT" not in sql]


def test_book_reprice_is_one_statement():
    books = BookFactory.create_batch(40)
    with CaptureQueriesContext(connection) as captured:
        services.book_reprice(prices=_prices(books))
    [sql] = _statements(captured)
    assert sql.startswith('UPDATE "books_book" SET') and "FROM (" in sql


def test_book_reprice_batches_very_large_maps(monkeypatch):
    books = BookFactory.create_batch(5)
    monkeypatch.setattr(services, "REPRICE_BATCH", 2)
    with CaptureQueriesContext(connection) as captured:
        assert services.book_reprice(prices=_prices(books)) == 5
    assert len(_statements(captured)) == 3
    assert _current_prices() == _prices(books)


def test_book_reprice_touches_updated_and_skips_unknown_ids():
    book, other = BookFactory.create_batch(2)
    before = Book.objects.get(pk=book.pk).updated

    assert services.book_reprice(prices={book.pk: Decimal("7.50"), 10**9: 1}) == 1

    book.refresh_from_db()
    assert book.price == Decimal("7.50") and book.updated > before
    assert Book.objects.get(pk=other.pk).price == other.price


def test_book_reprice_of_nothing_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert services.book_reprice(prices={}) == 0


def test_book_reprice_moves_the_catalogue_version(django_capture_on_commit_callbacks):
    from books.cache import freshness

    book = BookFactory()
    before = freshness.read_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.book_reprice(prices={book.pk: Decimal("3.00")})
    assert freshness.read_version() > before
    assert freshness.generation() == freshness.read_version()


@pytest.mark.parametrize(
    ("book_id", "price"),
    [
        (1, Decimal("0")),
        (1, Decimal("-1.00")),
        (1, Decimal("1.234")),
        (1, Decimal("1000000.00")),  # max_digits 8
        (1, Decimal("NaN")),
        (1, 1.5),  # binary floats are not money
        (1, "9.99"),
        (0, Decimal("1.00")),
        (True, Decimal("1.00")),
        ("1", Decimal("1.00")),
        (2**63, Decimal("1.00")),
    ],
)
def test_book_reprice_validates_every_entry_and_writes_nothing(book_id, price):
    book = BookFactory(pk=2)
    prices = {book.pk: Decimal("5.00"), book_id: price}
    with pytest.raises(ValidationError) as caught:
        services.book_reprice(prices=prices)
    assert list(caught.value.message_dict) == ["prices"]
    assert Book.objects.get().price == book.price
