"""Reviews are written as the signed-in user; only the writer or staff may change
or delete one (POST /api/books/{id}/reviews/, PATCH/DELETE /api/reviews/{id}/)."""

import pytest
import yaml
from django.contrib.auth import get_user_model

from books.models import Review
from tests.api.conftest import client_with_token
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def reviews_url(book) -> str:
    return f"/api/books/{book.pk}/reviews/"


def review_url(review) -> str:
    return f"/api/reviews/{review.pk}/"


@pytest.fixture
def other_client(db):
    return client_with_token(get_user_model().objects.create_user("someone-else"))


@pytest.fixture
def staff_client(db):
    return client_with_token(
        get_user_model().objects.create_user("moderator", is_staff=True)
    )


@pytest.fixture
def own_review(user):
    return ReviewFactory(user=user, reviewer="reader", rating=2, body="Slow start.")


# --- POST: as the user ----------------------------------------------------------------


def test_a_review_is_posted_as_the_signed_in_user(token_client, user):
    user.first_name, user.last_name = "Ada", "Reader"
    user.save()
    book = BookFactory()
    response = token_client.post(
        reviews_url(book), {"reviewer": "Someone Famous", "rating": 5, "body": "Yes."}
    )
    assert response.status_code == 201, response.json()
    assert response.json()["reviewer"] == "Ada Reader"  # the client's name is ignored
    review = Review.objects.get()
    assert (review.user, review.reviewer, review.book) == (user, "Ada Reader", book)
    assert set(response.json()) == {
        "id",
        "url",
        "book",
        "reviewer",
        "rating",
        "body",
        "created",
    }


def test_without_a_full_name_the_username_is_the_reviewer(token_client):
    response = token_client.post(reviews_url(BookFactory()), {"rating": 3})
    assert response.json()["reviewer"] == "reader"


def test_anonymous_reviews_are_401(api_client):
    book = BookFactory()
    response = api_client.post(reviews_url(book), {"reviewer": "Anon", "rating": 5})
    assert response.status_code == 401
    assert not Review.objects.exists()


# --- PATCH ----------------------------------------------------------------------------


def test_the_writer_may_change_rating_and_body(token_client, own_review):
    response = token_client.patch(review_url(own_review), {"rating": 4})
    assert response.status_code == 200, response.json()
    assert (response.json()["rating"], response.json()["body"]) == (4, "Slow start.")
    response = token_client.patch(review_url(own_review), {"body": "Grew on me."})
    assert (response.json()["rating"], response.json()["body"]) == (4, "Grew on me.")
    own_review.refresh_from_db()
    assert (own_review.rating, own_review.body) == (4, "Grew on me.")


def test_reviewer_book_and_user_cannot_be_changed(token_client, own_review, user):
    other_book = BookFactory()
    response = token_client.patch(
        review_url(own_review),
        {"reviewer": "Someone Else", "book": other_book.pk, "user": 999, "rating": 5},
    )
    assert response.status_code == 200
    own_review.refresh_from_db()
    assert own_review.reviewer == "reader"
    assert (own_review.book_id, own_review.user, own_review.rating) == (
        own_review.book_id,
        user,
        5,
    )
    assert own_review.book_id != other_book.pk


def test_another_user_may_not_change_or_delete_a_review(other_client, own_review):
    patched = other_client.patch(review_url(own_review), {"rating": 5})
    assert patched.status_code == 403
    assert "writer or staff" in patched.json()["detail"]
    assert other_client.delete(review_url(own_review)).status_code == 403
    own_review.refresh_from_db()
    assert own_review.rating == 2


def test_anonymous_may_not_change_or_delete_a_review(api_client, own_review):
    assert api_client.patch(review_url(own_review), {"rating": 5}).status_code == 401
    assert api_client.delete(review_url(own_review)).status_code == 401
    own_review.refresh_from_db()
    assert own_review.rating == 2


def test_staff_may_change_and_delete_any_review(staff_client, own_review):
    seeded = ReviewFactory(reviewer="Seeded Name", rating=3)  # no user
    assert staff_client.patch(review_url(seeded), {"rating": 1}).status_code == 200
    seeded.refresh_from_db()
    assert (seeded.rating, seeded.reviewer, seeded.user) == (1, "Seeded Name", None)
    assert staff_client.delete(review_url(own_review)).status_code == 204
    assert list(Review.objects.all()) == [seeded]


def test_a_review_without_a_user_is_nobodys_but_staffs(token_client):
    seeded = ReviewFactory(reviewer="reader")  # same name, but no user
    assert token_client.patch(review_url(seeded), {"rating": 1}).status_code == 403
    assert token_client.delete(review_url(seeded)).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 6}, "rating"),
        ({"rating": "five"}, "rating"),
        ({"rating": None}, "rating"),
        ({"body": None}, "body"),
    ],
)
def test_invalid_changes_are_400_and_change_nothing(
    token_client, own_review, body, field
):
    response = token_client.patch(review_url(own_review), body)
    assert response.status_code == 400
    assert field in response.json()
    own_review.refresh_from_db()
    assert (own_review.rating, own_review.body) == (2, "Slow start.")


def test_put_is_not_allowed(token_client, own_review):
    response = token_client.put(review_url(own_review), {"rating": 5, "body": ""})
    assert response.status_code == 405
    assert response.json()["detail"]


# --- DELETE ---------------------------------------------------------------------------


def test_the_writer_may_delete_a_review(token_client, own_review):
    assert token_client.delete(review_url(own_review)).status_code == 204
    assert not Review.objects.exists()
    response = token_client.delete(review_url(own_review))
    assert response.status_code == 404
    assert response.json()["detail"]


# --- Freshness and schema -------------------------------------------------------------


def test_a_changed_review_shows_in_the_book_at_once(
    api_client, token_client, own_review, django_capture_on_commit_callbacks
):
    book_url = f"/api/books/{own_review.book_id}/"
    api_client.get(book_url)
    assert api_client.get(book_url).headers["X-Cache"] == "HIT"
    with django_capture_on_commit_callbacks(execute=True):
        token_client.patch(review_url(own_review), {"rating": 5})
    detail = api_client.get(book_url).json()
    assert detail["rating"] == {"average": 5.0, "count": 1}
    with django_capture_on_commit_callbacks(execute=True):
        token_client.delete(review_url(own_review))
    detail = api_client.get(book_url).json()
    assert detail["rating"] == {"average": None, "count": 0}
    assert detail["recent_reviews"] == []


def test_the_schema_documents_review_writes(api_client):
    schema = yaml.safe_load(api_client.get("/api/schema/").content)
    post = schema["paths"]["/api/books/{id}/reviews/"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    write = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(write["properties"]) == {"rating", "body"}
    review = schema["paths"]["/api/reviews/{id}/"]
    assert set(review) >= {"get", "patch", "delete"}
    assert "put" not in review
    patched = review["patch"]["responses"]["200"]["content"]["application/json"]
    assert patched["schema"]["$ref"].endswith("/Review")


def test_a_review_deleted_during_an_update_is_a_404_not_a_500():
    """``review_update`` re-reads the row under a lock; if a concurrent delete won,
    its ``DoesNotExist`` reaches the handler, which answers 404."""
    from api.exceptions import exception_handler

    response = exception_handler(Review.DoesNotExist(), {})
    assert response.status_code == 404
