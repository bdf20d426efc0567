"""/api/authors/: book_count, newest books in the detail, CRUD, 409 on PROTECT."""

import datetime

import pytest

from books.models import AUTHOR_RECENT_BOOKS, Author
from tests.factories import AuthorFactory, BookFactory

pytestmark = pytest.mark.django_db

AUTHORS = "/api/authors/"


def test_list_has_book_count_and_is_ordered_by_name(api_client):
    zadie = AuthorFactory(name="Zadie Smith", born=datetime.date(1975, 10, 25))
    ali = AuthorFactory(name="Ali Smith", born=None, country="Scotland")
    BookFactory.create_batch(2, author=zadie)

    body = api_client.get(AUTHORS).json()

    assert (body["next"], body["previous"]) == (None, None)
    assert body["results"] == [
        {
            "id": ali.pk,
            "url": f"http://testserver/api/authors/{ali.pk}/",
            "name": "Ali Smith",
            "born": None,
            "country": "Scotland",
            "book_count": 0,
        },
        {
            "id": zadie.pk,
            "url": f"http://testserver/api/authors/{zadie.pk}/",
            "name": "Zadie Smith",
            "born": "1975-10-25",
            "country": zadie.country,
            "book_count": 2,
        },
    ]


def test_list_is_keyset_paginated(api_client):
    for name in ["b", "a", "c", "a", "b"]:
        AuthorFactory(name=name)
    first = api_client.get(AUTHORS, {"page_size": 2}).json()
    names = [a["name"] for a in first["results"]]
    url = first["next"]
    while url:
        page = api_client.get(url).json()
        names += [a["name"] for a in page["results"]]
        url = page["next"]
    assert names == ["a", "a", "b", "b", "c"]


def test_detail_adds_bio_and_newest_books(api_client):
    author = AuthorFactory(bio="Wrote things.")
    books = [
        BookFactory(
            author=author, published=datetime.date(2000, 1, 1) + datetime.timedelta(i)
        )
        for i in range(AUTHOR_RECENT_BOOKS + 2)
    ]
    BookFactory()  # someone else's

    body = api_client.get(f"{AUTHORS}{author.pk}/").json()

    assert body["bio"] == "Wrote things."
    assert body["book_count"] == AUTHOR_RECENT_BOOKS + 2
    newest = [b.pk for b in reversed(books)][:AUTHOR_RECENT_BOOKS]
    assert [b["id"] for b in body["books"]] == newest
    assert body["books"][0]["author"]["id"] == author.pk
    assert body["books_url"] == f"http://testserver/api/books/?author={author.pk}"
    full = api_client.get(f"{body['books_url']}&page_size=100").json()["results"]
    assert len(full) == AUTHOR_RECENT_BOOKS + 2


def test_unknown_author_is_404(api_client):
    assert api_client.get(f"{AUTHORS}424242/").status_code == 404


def test_anonymous_cannot_write_authors(api_client):
    author = AuthorFactory()
    assert api_client.post(AUTHORS, {"name": "X"}).status_code == 401
    assert api_client.delete(f"{AUTHORS}{author.pk}/").status_code == 401
    assert Author.objects.count() == 1


def test_author_crud(editor_client):
    response = editor_client.post(
        AUTHORS, {"name": "Octavia Butler", "born": "1947-06-22", "id": 5000}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"] != 5000
    assert (body["book_count"], body["books"]) == (0, [])
    url = body["url"]

    assert editor_client.patch(url, {"country": "USA"}).json()["country"] == "USA"
    # DRF's PUT: optional fields left out keep their value.
    put = editor_client.put(url, {"name": "O. E. Butler"}).json()
    assert (put["name"], put["born"]) == ("O. E. Butler", "1947-06-22")

    assert editor_client.delete(url).status_code == 204
    assert editor_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "payload", [{}, {"name": ""}, {"name": "x" * 201}, {"name": "A", "born": "soon"}]
)
def test_invalid_author_is_400(editor_client, payload):
    response = editor_client.post(AUTHORS, payload)
    assert response.status_code == 400
    assert set(response.json()) <= {"name", "born"}


def test_deleting_an_author_with_books_is_409(editor_client):
    author = AuthorFactory()
    BookFactory.create_batch(2, author=author)
    response = editor_client.delete(f"{AUTHORS}{author.pk}/")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This author still has 2 books; "
        "delete them or give them another author first."
    }
    assert Author.objects.filter(pk=author.pk).exists()
