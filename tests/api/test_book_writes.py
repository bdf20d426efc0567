"""Writes on /api/books/ and /api/books/{id}/reviews/: auth, validation, services."""

import datetime
import json
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory, force_authenticate

from api.viewsets import BookViewSet
from books.models import Book, Review, isbn13_check_digit
from tests.factories import AuthorFactory, BookFactory, GenreFactory, PublisherFactory

pytestmark = pytest.mark.django_db

BOOKS = "/api/books/"


def isbn(n: int) -> str:
    first12 = f"978{n:09d}"
    return first12 + isbn13_check_digit(first12)


@pytest.fixture
def payload() -> dict:
    author = AuthorFactory()
    return {
        "title": "Piranesi",
        "isbn": isbn(1),
        "author": author.pk,
        "published": "2020-09-15",
        "pages": 272,
        "price": "16.99",
    }


def test_anonymous_writes_are_refused(api_client, payload):
    book = BookFactory()
    assert api_client.post(BOOKS, payload).status_code == 401
    assert api_client.patch(f"{BOOKS}{book.pk}/", {"title": "x"}).status_code == 401
    assert api_client.delete(f"{BOOKS}{book.pk}/").status_code == 401
    assert api_client.post(f"{BOOKS}{book.pk}/reviews/", {}).status_code == 401
    book.refresh_from_db()
    assert book.title != "x"
    assert Book.objects.count() == 1


def test_create_with_token_returns_the_detail(editor_client, payload):
    fantasy = GenreFactory(name="Fantasy")
    crime = GenreFactory(name="Crime")
    publisher = PublisherFactory()
    payload |= {"genres": [fantasy.pk, "crime"], "publisher": publisher.pk}

    response = editor_client.post(BOOKS, payload)

    assert response.status_code == 201, response.json()
    body = response.json()
    book = Book.objects.get()
    assert body["id"] == book.pk
    assert body["url"] == f"http://testserver/api/books/{book.pk}/"
    assert [g["slug"] for g in body["genres"]] == ["crime", "fantasy"]
    assert body["rating"] == {"average": None, "count": 0}
    assert body["recent_reviews"] == []
    assert set(book.genres.all()) == {fantasy, crime}
    assert editor_client.get(body["url"]).json() == body


def test_create_with_session_needs_csrf(session_client, payload):
    # CSRF is checked while authenticating, before any permission.
    response = session_client.post(BOOKS, payload)
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_read_only_fields_are_ignored(editor_client, payload):
    payload |= {
        "id": 999,
        "url": "http://evil/",
        "created": "2000-01-01T00:00:00Z",
        "updated": "2000-01-01T00:00:00Z",
        "rating": {"average": 5, "count": 1000},
    }
    body = editor_client.post(BOOKS, payload).json()
    assert body["id"] != 999
    assert body["rating"] == {"average": None, "count": 0}
    assert Book.objects.get().created.year > 2000


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"isbn": "123"}, "isbn"),
        ({"isbn": "978000000000X"}, "isbn"),
        ({"isbn": isbn(1)[:-1] + str((int(isbn(1)[-1]) + 1) % 10)}, "isbn"),
        ({"pages": 0}, "pages"),
        ({"pages": 2**40}, "pages"),
        ({"price": "0"}, "price"),
        ({"price": "-3.00"}, "price"),
        ({"price": "12.345"}, "price"),
        ({"price": "abc"}, "price"),
        ({"published": "2020-13-01"}, "published"),
        ({"author": 999999}, "author"),
        ({"author": "x"}, "author"),
        ({"genres": ["no-such-genre"]}, "genres"),
        ({"genres": [{"id": 1}]}, "genres"),
        ({"title": ""}, "title"),
    ],
)
def test_invalid_book_is_400_naming_the_field(editor_client, payload, change, field):
    response = editor_client.post(BOOKS, payload | change)
    assert response.status_code == 400
    assert field in response.json()
    assert not Book.objects.exists()


def test_missing_fields_are_listed(editor_client):
    response = editor_client.post(BOOKS, {})
    assert response.status_code == 400
    assert set(response.json()) == {
        "title",
        "isbn",
        "author",
        "published",
        "pages",
        "price",
    }


def test_malformed_json_is_400(editor_client):
    response = editor_client.post(
        BOOKS, data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_duplicate_isbn_is_400(editor_client, payload):
    BookFactory(isbn=payload["isbn"])
    response = editor_client.post(BOOKS, payload)
    assert response.status_code == 400
    assert "isbn" in response.json()


def test_put_replaces_and_patch_changes_fields(editor_client, payload):
    book = BookFactory(genres=[GenreFactory(name="Crime")])
    url = f"{BOOKS}{book.pk}/"

    response = editor_client.put(url, payload)
    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Piranesi"
    assert [g["slug"] for g in response.json()["genres"]] == ["crime"]

    response = editor_client.patch(url, {"price": "9.50", "genres": []})
    assert response.status_code == 200
    assert response.json()["price"] == "9.50"
    assert response.json()["genres"] == []
    book.refresh_from_db()
    assert (book.title, str(book.price)) == ("Piranesi", "9.50")


def test_patch_keeps_own_isbn_but_not_anothers(editor_client):
    book, other = BookFactory(), BookFactory()
    url = f"{BOOKS}{book.pk}/"
    assert editor_client.patch(url, {"isbn": book.isbn}).status_code == 200
    response = editor_client.patch(url, {"isbn": other.isbn})
    assert response.status_code == 400
    assert "isbn" in response.json()


def test_delete_removes_the_book(editor_client):
    book = BookFactory()
    assert editor_client.delete(f"{BOOKS}{book.pk}/").status_code == 204
    assert not Book.objects.exists()
    assert editor_client.delete(f"{BOOKS}{book.pk}/").status_code == 404


def test_reviews_are_listed_newest_first_and_paginated(api_client):
    book = BookFactory()
    other = BookFactory()
    base = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    reviews = [
        Review.objects.create(
            book=book, reviewer=f"r{i}", rating=3, created=base + datetime.timedelta(i)
        )
        for i in range(5)
    ]
    Review.objects.create(book=other, reviewer="elsewhere", rating=1)

    first = api_client.get(f"{BOOKS}{book.pk}/reviews/", {"page_size": 3}).json()
    second = api_client.get(first["next"]).json()

    assert [r["id"] for r in first["results"] + second["results"]] == [
        r.pk for r in reversed(reviews)
    ]
    assert second["next"] is None
    assert api_client.get(f"{BOOKS}999999/reviews/").status_code == 404


def test_post_review(token_client):
    book = BookFactory()
    url = f"{BOOKS}{book.pk}/reviews/"
    response = token_client.post(url, {"rating": 5, "body": "Yes."})
    assert response.status_code == 201
    body = response.json()
    assert body["book"] == f"http://testserver/api/books/{book.pk}/"
    assert (body["reviewer"], body["rating"]) == ("reader", 5)
    detail = token_client.get(f"{BOOKS}{book.pk}/").json()
    assert detail["rating"] == {"average": 5.0, "count": 1}
    assert detail["recent_reviews"][0]["id"] == body["id"]


@pytest.mark.parametrize("rating", [0, 6, "five", None])
def test_review_rating_must_be_1_to_5(token_client, rating):
    book = BookFactory()
    response = token_client.post(f"{BOOKS}{book.pk}/reviews/", {"rating": rating})
    assert response.status_code == 400
    assert "rating" in response.json()
    assert not Review.objects.exists()


def test_oversized_body_is_a_json_413(settings, editor):
    """DRF raises RequestDataTooBig while reading request.data; the API handler
    makes it a JSON 413. (Called on the view directly: the site-wide middleware may
    refuse such bodies before the view runs.)"""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    token = Token.objects.create(user=editor)
    body = json.dumps({"title": "x" * 2_000})
    request = APIRequestFactory().post(
        BOOKS,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    response = BookViewSet.as_view({"post": "create"})(request)
    response.render()
    assert response.status_code == 413
    assert json.loads(response.content) == {"detail": "Request body too large."}


def test_nul_in_query_is_400_from_the_api_layer(db):
    """The filter serializer refuses NUL itself, whatever the middleware does."""
    request = APIRequestFactory().get(BOOKS, {"search": "a\x00b"})
    response = BookViewSet.as_view({"get": "list"})(request)
    assert response.status_code == 400
    assert "search" in response.data


@pytest.mark.parametrize(
    ("change", "field"),
    [({"title": "a\x00b"}, "title"), ({"genres": ["a\x00b"]}, "genres")],
)
def test_nul_in_json_is_400_from_the_api_layer(editor, payload, change, field):
    """PostgreSQL rejects NUL in text; the serializers refuse it before any query
    (called on the view directly, past the site-wide middleware)."""
    request = APIRequestFactory().post(BOOKS, payload | change, format="json")
    force_authenticate(request, user=editor)
    response = BookViewSet.as_view({"post": "create"})(request)
    assert response.status_code == 400
    assert field in response.data
    assert not Book.objects.exists()


def test_drf_create_token_command_makes_a_working_key(api_client, editor, payload):
    out = StringIO()
    call_command("drf_create_token", editor.username, stdout=out)
    key = Token.objects.get(user=editor).key
    assert key in out.getvalue()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.post(BOOKS, payload).status_code == 201


# --- genres, and the body encodings the API takes -------------------------------------


def test_genres_cost_the_same_queries_for_one_or_ten(editor_client, payload):
    genres = [GenreFactory(name=f"Genre {i}") for i in range(10)]

    def queries_to_create(n: int, refs: list) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = editor_client.post(
                BOOKS, payload | {"isbn": isbn(100 + n), "genres": refs}
            )
        assert response.status_code == 201, response.json()
        assert len(response.json()["genres"]) == len(refs)
        return len(captured)

    one = queries_to_create(1, [genres[0].slug])
    assert queries_to_create(2, [g.pk for g in genres]) == one


def test_eleven_genres_are_a_400(editor_client, payload):
    refs = [GenreFactory(name=f"Genre {i}").pk for i in range(11)]
    response = editor_client.post(BOOKS, payload | {"genres": refs})
    assert response.status_code == 400
    assert response.json() == {"genres": ["A book has at most 10 genres."]}
    assert not Book.objects.exists()


def test_a_huge_genre_list_is_a_fast_400_past_the_middleware(
    editor, payload, django_assert_max_num_queries
):
    """70,000 references used to run 70,000 SELECTs (33 s). The site middleware
    refuses JSON arrays over 1,000 items; without it, the field refuses them too."""
    request = APIRequestFactory().post(
        BOOKS, payload | {"genres": list(range(70_000))}, format="json"
    )
    force_authenticate(request, user=editor)
    with django_assert_max_num_queries(5):  # permissions, author: never the genres
        response = BookViewSet.as_view({"post": "create"})(request)
    assert response.status_code == 400
    assert response.data["genres"] == ["A book has at most 10 genres."]


def form(data: dict) -> dict:
    return {
        "data": urlencode(data, doseq=True),
        "content_type": "application/x-www-form-urlencoded",
    }


def test_form_encoded_writes_work_and_validate_genres(editor_client, payload):
    fantasy, crime = GenreFactory(name="Fantasy"), GenreFactory(name="Crime")
    response = editor_client.post(BOOKS, **form(payload | {"genres": ["nope"]}))
    assert response.status_code == 400
    assert response.json() == {"genres": ["No genre with id or slug nope."]}
    response = editor_client.post(
        BOOKS, **form(payload | {"genres": [fantasy.pk, "crime"]})
    )
    assert response.status_code == 201, response.json()
    assert set(Book.objects.get().genres.all()) == {fantasy, crime}


def test_form_encoded_with_too_many_fields_is_a_json_400(editor_client, payload):
    body = form(payload | {"genres": [str(i) for i in range(70_000)]})
    response = editor_client.post(BOOKS, **body)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not Book.objects.exists()


def test_multipart_is_refused_as_unsupported(editor_client, payload):
    response = editor_client.post(BOOKS, payload, format="multipart")
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]
    assert not Book.objects.exists()


@pytest.mark.parametrize("genre", ["a\x00b", "\ud800", "\udfff-x"])
def test_nul_and_lone_surrogates_in_genres_are_400_past_the_middleware(
    editor, payload, genre
):
    body = json.dumps(payload | {"genres": ["x", genre]})  # ASCII: \\ud800 escapes
    request = APIRequestFactory().post(BOOKS, body, content_type="application/json")
    force_authenticate(request, user=editor)
    response = BookViewSet.as_view({"post": "create"})(request)
    response.render()
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "genres": ["Give each genre as an id or a slug; item 2 is not."]
    }


def test_browsable_api_shows_an_editor_the_json_form_only(editor_client):
    book = BookFactory(genres=[GenreFactory(name="Fantasy")])
    response = editor_client.get(f"{BOOKS}{book.pk}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="put-generic-content-form"' in html  # the raw-data form
    assert 'enctype="multipart/form-data"' not in html
