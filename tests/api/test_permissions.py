"""Who may write: editors and staff write the catalogue; anyone signed in reviews."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from books.models import Author, Book, Genre, Publisher
from tests.api.conftest import client_with_token
from tests.factories import AuthorFactory, BookFactory, GenreFactory, PublisherFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book_payload() -> dict:
    return {
        "title": "Kindred",
        "isbn": "9780807083697",
        "author": AuthorFactory().pk,
        "published": "1979-06-01",
        "pages": 264,
        "price": "15.00",
    }


def catalogue_writes(book_payload: dict) -> list[tuple[str, str, dict]]:
    book, author = BookFactory(), AuthorFactory()
    return [
        ("post", "/api/books/", book_payload),
        ("put", f"/api/books/{book.pk}/", book_payload),
        ("patch", f"/api/books/{book.pk}/", {"title": "Changed"}),
        ("delete", f"/api/books/{book.pk}/", {}),
        ("post", "/api/authors/", {"name": "New Author"}),
        ("put", f"/api/authors/{author.pk}/", {"name": "Changed"}),
        ("patch", f"/api/authors/{author.pk}/", {"name": "Changed"}),
        ("delete", f"/api/authors/{author.pk}/", {}),
    ]


def snapshot() -> tuple:
    return (
        sorted(Book.objects.values_list("id", "title")),
        sorted(Author.objects.values_list("id", "name")),
    )


def test_a_plain_signed_in_user_gets_403_on_every_catalogue_write(
    token_client, book_payload
):
    writes = catalogue_writes(book_payload)
    before = snapshot()
    for method, path, body in writes:
        response = getattr(token_client, method)(path, body)
        assert response.status_code == 403, (method, path)
        assert "permission" in response.json()["detail"]
    assert snapshot() == before


def test_anonymous_catalogue_writes_are_401(api_client, book_payload):
    writes = catalogue_writes(book_payload)
    before = snapshot()
    for method, path, body in writes:
        response = getattr(api_client, method)(path, body)
        assert response.status_code == 401, (method, path)
        assert response["WWW-Authenticate"] == "Token"
    assert snapshot() == before


@pytest.mark.parametrize("who", ["editor", "staff", "superuser"])
def test_editors_and_staff_may_write_the_catalogue(who, editor, book_payload):
    users = get_user_model().objects
    user = {
        "editor": editor,
        "staff": users.create_user("staff", is_staff=True),
        "superuser": users.create_superuser("root"),
    }[who]
    client = client_with_token(user)
    expected = {"post": 201, "put": 200, "patch": 200, "delete": 204}
    for method, path, body in catalogue_writes(book_payload):
        if method == "put" and "books" in path:
            body = body | {"isbn": "9780807083680"}  # not the one just created
        response = getattr(client, method)(path, body)
        assert response.status_code == expected[method], (method, path, response.data)


def test_a_user_with_one_permission_has_only_that_one(user, book_payload):
    """The model permission decides, not group membership as such."""
    user.user_permissions.add(
        *Group.objects.get(name="editors").permissions.filter(codename="add_book")
    )
    client = client_with_token(user)
    book = BookFactory()
    assert client.post("/api/books/", book_payload).status_code == 201
    assert client.patch(f"/api/books/{book.pk}/", {"title": "x"}).status_code == 403
    assert client.delete(f"/api/books/{book.pk}/").status_code == 403
    assert client.post("/api/authors/", {"name": "x"}).status_code == 403


@pytest.mark.parametrize("path", ["/api/genres/", "/api/publishers/"])
def test_genres_and_publishers_stay_read_only_even_for_editors(editor_client, path):
    GenreFactory()
    PublisherFactory()
    assert editor_client.get(path).status_code == 200
    assert editor_client.post(path, {"name": "New", "slug": "new"}).status_code == 405
    assert (Genre.objects.count(), Publisher.objects.count()) == (1, 1)


def test_reads_stay_open_and_cost_no_permission_query(
    api_client, token_client, django_assert_num_queries
):
    book = BookFactory()
    assert api_client.get(f"/api/books/{book.pk}/").status_code == 200
    # Token lookup + the three detail queries; no permission or group query.
    with django_assert_num_queries(4):
        assert token_client.get(f"/api/books/{book.pk}/").status_code == 200
