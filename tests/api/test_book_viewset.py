"""GET /api/books/ and /api/books/{id}/: shape, filters, search, ordering, pages."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import (
    AuthorFactory,
    BookFactory,
    GenreFactory,
    PublisherFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db

BOOKS = "/api/books/"
LIST_KEYS = [
    "id",
    "url",
    "title",
    "isbn",
    "published",
    "pages",
    "price",
    "author",
    "publisher",
    "genres",
    "rating",
]


def ids(response) -> list[int]:
    return [book["id"] for book in response.json()["results"]]


def walk(client, url: str) -> list[int]:
    """Follow ``next`` links to the end, collecting ids."""
    seen = []
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    return seen


def test_route_names_are_stable():
    assert reverse("api:book-list") == BOOKS
    assert reverse("api:book-detail", args=[7]) == "/api/books/7/"
    assert reverse("api:book-reviews", args=[7]) == "/api/books/7/reviews/"
    assert reverse("api:naive-book-list") == "/api/naive/books/"
    assert reverse("api:naive-author-list") == "/api/naive/authors/"
    assert reverse("api:genre-list") == "/api/genres/"
    assert reverse("api:publisher-list") == "/api/publishers/"
    assert reverse("api:author-detail", args=[7]) == "/api/authors/7/"


def test_api_root_is_browsable(api_client):
    response = api_client.get("/api/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Api Root" in response.content
    assert api_client.get("/api/").json()["books"] == "http://testserver/api/books/"


def test_list_item_has_the_contract_shape(api_client):
    author = AuthorFactory(name="Ursula Le Guin")
    publisher = PublisherFactory(name="Ace")
    fantasy, classics = GenreFactory(name="Fantasy"), GenreFactory(name="Classics")
    book = BookFactory(
        title="A Wizard of Earthsea",
        author=author,
        publisher=publisher,
        genres=[fantasy, classics],
        published=datetime.date(1968, 11, 1),
        pages=183,
        price=Decimal("12.90"),
    )
    for rating in (5, 4, 4):
        ReviewFactory(book=book, rating=rating)

    body = api_client.get(BOOKS).json()

    assert list(body) == ["next", "previous", "results"]
    assert (body["next"], body["previous"]) == (None, None)
    item = body["results"][0]
    assert list(item) == LIST_KEYS
    assert item == {
        "id": book.pk,
        "url": f"http://testserver/api/books/{book.pk}/",
        "title": "A Wizard of Earthsea",
        "isbn": book.isbn,
        "published": "1968-11-01",
        "pages": 183,
        "price": "12.90",
        "author": {
            "id": author.pk,
            "name": "Ursula Le Guin",
            "url": f"http://testserver/api/authors/{author.pk}/",
        },
        "publisher": {"id": publisher.pk, "name": "Ace"},
        "genres": [
            {"id": classics.pk, "name": "Classics", "slug": "classics"},
            {"id": fantasy.pk, "name": "Fantasy", "slug": "fantasy"},
        ],
        "rating": {"average": 4.33, "count": 3},
    }


def test_book_without_reviews_or_publisher(api_client):
    BookFactory(publisher=None)
    item = api_client.get(BOOKS).json()["results"][0]
    assert item["publisher"] is None
    assert item["genres"] == []
    assert item["rating"] == {"average": None, "count": 0}


def test_detail_adds_description_and_newest_five_reviews(api_client):
    book = BookFactory(description="Long text.")
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    reviews = [
        ReviewFactory(book=book, created=base + datetime.timedelta(days=i))
        for i in range(7)
    ]
    body = api_client.get(f"{BOOKS}{book.pk}/").json()

    assert list(body) == [*LIST_KEYS, "description", "recent_reviews"]
    assert body["description"] == "Long text."
    assert [r["id"] for r in body["recent_reviews"]] == [
        r.pk for r in reversed(reviews[2:])
    ]
    review = body["recent_reviews"][0]
    assert list(review) == [
        "id",
        "url",
        "book",
        "reviewer",
        "rating",
        "body",
        "created",
    ]
    assert review["url"] == f"http://testserver/api/reviews/{review['id']}/"
    assert review["book"] == f"http://testserver/api/books/{book.pk}/"
    assert review["created"] == "2024-01-07T00:00:00Z"
    assert api_client.get(review["url"]).json() == review


@pytest.mark.parametrize("path", ["999999/", "abc/", "1.5/"])
def test_unknown_book_is_404_json(api_client, path):
    response = api_client.get(f"{BOOKS}{path}")
    assert response.status_code == 404
    if path == "999999/":
        assert response.json() == {"detail": "No Book matches the given query."}


def test_filter_by_author_genre_publisher(api_client):
    ann, bob = AuthorFactory(), AuthorFactory()
    crime, poetry = GenreFactory(name="Crime"), GenreFactory(name="Poetry")
    penguin = PublisherFactory(name="Penguin")
    a = BookFactory(author=ann, genres=[crime], publisher=penguin)
    b = BookFactory(author=bob, genres=[crime, poetry])
    c = BookFactory(author=bob, genres=[poetry], publisher=penguin)

    assert ids(api_client.get(BOOKS, {"author": ann.pk})) == [a.pk]
    assert ids(api_client.get(BOOKS, {"genre": "poetry"})) == [c.pk, b.pk]
    assert ids(api_client.get(BOOKS, {"publisher": penguin.pk})) == [c.pk, a.pk]
    combined = {"author": bob.pk, "genre": "crime"}
    assert ids(api_client.get(BOOKS, combined)) == [b.pk]
    assert ids(api_client.get(BOOKS, {"genre": "none-such"})) == []


def test_filter_by_publication_dates_is_inclusive(api_client):
    books = [BookFactory(published=datetime.date(2020, 1, day)) for day in (1, 2, 3, 4)]
    response = api_client.get(
        BOOKS, {"published_after": "2020-01-02", "published_before": "2020-01-03"}
    )
    assert ids(response) == [books[2].pk, books[1].pk]


def test_search_matches_title_or_author_name_case_insensitively(api_client):
    tolkien = AuthorFactory(name="J. R. R. Tolkien")
    hobbit = BookFactory(title="The Hobbit", author=tolkien)
    silmarillion = BookFactory(title="The Silmarillion", author=tolkien)
    dune = BookFactory(title="Dune", author=AuthorFactory(name="Frank Herbert"))
    BookFactory(title="Emma", author=AuthorFactory(name="Jane Austen"))

    assert ids(api_client.get(BOOKS, {"search": "HOBBIT"})) == [hobbit.pk]
    assert ids(api_client.get(BOOKS, {"search": "tolk"})) == [
        silmarillion.pk,
        hobbit.pk,
    ]
    assert ids(api_client.get(BOOKS, {"search": "une"})) == [dune.pk]
    # LIKE wildcards are literal characters, not patterns.
    assert ids(api_client.get(BOOKS, {"search": "%"})) == []
    assert len(ids(api_client.get(BOOKS, {"search": "  "}))) == 4


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (None, ["b", "c", "a"]),
        ("-published", ["b", "c", "a"]),
        ("published", ["a", "c", "b"]),
        ("title", ["a", "b", "c"]),
        ("-title", ["c", "b", "a"]),
    ],
)
def test_ordering(api_client, ordering, expected):
    for title, day in (("a", 1), ("b", 3), ("c", 2)):
        BookFactory(title=title, published=datetime.date(2021, 1, day))
    params = {"ordering": ordering} if ordering else {}
    titles = [b["title"] for b in api_client.get(BOOKS, params).json()["results"]]
    assert titles == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"author": "abc"}, "author"),
        ({"author": "1.5"}, "author"),
        ({"author": str(2**64)}, "author"),
        ({"publisher": "x"}, "publisher"),
        ({"genre": "not a slug!"}, "genre"),
        ({"published_after": "yesterday"}, "published_after"),
        ({"published_before": "2021-02-30"}, "published_before"),
        ({"ordering": "password"}, "ordering"),
        ({"ordering": "author__name"}, "ordering"),
        ({"search": "x" * 10_000}, "search"),
    ],
)
def test_bad_parameter_is_400_naming_it(api_client, params, field):
    response = api_client.get(BOOKS, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_unknown_parameters_are_ignored(api_client):
    BookFactory()
    assert api_client.get(BOOKS, {"colour": "blue"}).status_code == 200


def test_pagination_walks_every_book_once_in_each_ordering(api_client):
    # Three books per date, so the id tie-breaker is exercised at page edges.
    for i in range(13):
        BookFactory(published=datetime.date(2022, 1, 1 + i // 3), title=f"t{i % 4}")
    for ordering in ("-published", "published", "title", "-title"):
        url = f"{BOOKS}?page_size=4&ordering={ordering}"
        seen = walk(api_client, url)
        assert len(seen) == len(set(seen)) == 13
        everything = ids(api_client.get(BOOKS, {"ordering": ordering}))
        assert seen == everything


def test_previous_link_returns_the_page_before(api_client):
    BookFactory.create_batch(7)
    first = api_client.get(BOOKS, {"page_size": 3}).json()
    second = api_client.get(first["next"]).json()
    assert second["previous"]
    back = api_client.get(second["previous"]).json()
    assert back["results"] == first["results"]
    assert back["previous"] is None
    assert back["next"] == first["next"]
    last = api_client.get(second["next"]).json()
    assert (len(last["results"]), last["next"]) == (1, None)


def test_links_keep_the_filters(api_client):
    author = AuthorFactory()
    BookFactory.create_batch(3, author=author)
    BookFactory()
    body = api_client.get(BOOKS, {"page_size": 2, "author": author.pk}).json()
    assert body["next"].startswith("http://testserver/api/books/?")
    assert f"author={author.pk}" in body["next"]
    assert len(api_client.get(body["next"]).json()["results"]) == 1


@pytest.mark.parametrize(
    ("page_size", "expected"),
    [("5", 5), ("100", 100), ("100000", 100), ("", 20)],
)
def test_page_size_is_capped(api_client, page_size, expected):
    author = AuthorFactory()
    BookFactory.create_batch(101, author=author, publisher=None)
    response = api_client.get(BOOKS, {"page_size": page_size})
    assert len(response.json()["results"]) == expected


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5", "\u0661"])
def test_junk_page_size_is_a_400_naming_it(api_client, page_size):
    response = api_client.get(BOOKS, {"page_size": page_size})
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


@pytest.mark.parametrize("cursor", ["garbage", "e30", "eyJvIjoidGl0bGUsaWQifQ"])
def test_invalid_cursor_is_a_400_naming_it(api_client, cursor):
    response = api_client.get(BOOKS, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_cursor_made_for_another_ordering_is_a_400(api_client):
    BookFactory.create_batch(3)
    next_link = api_client.get(BOOKS, {"page_size": 1}).json()["next"]
    response = api_client.get(f"{next_link}&ordering=title")
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_genres_and_publishers_are_unpaginated_lookup_lists(api_client):
    crime = GenreFactory(name="Crime")
    ace = PublisherFactory(name="Ace", country="USA")
    genres = api_client.get("/api/genres/").json()
    assert genres == [
        {
            "id": crime.pk,
            "url": f"http://testserver/api/genres/{crime.pk}/",
            "name": "Crime",
            "slug": "crime",
        }
    ]
    publishers = api_client.get("/api/publishers/").json()
    assert publishers == [
        {
            "id": ace.pk,
            "url": f"http://testserver/api/publishers/{ace.pk}/",
            "name": "Ace",
            "country": "USA",
        }
    ]
    assert api_client.get(genres[0]["url"]).json() == genres[0]
    assert api_client.get("/api/genres/", {"page_size": 1}).json() == genres


@pytest.mark.parametrize(
    "path",
    [
        "/api/books/",
        "/api/books/{book}/",
        "/api/books/{book}/reviews/",
        "/api/authors/",
        "/api/authors/{author}/",
        "/api/naive/books/",
        "/api/naive/authors/{author}/",
    ],
)
def test_browsable_api_renders_for_humans(token_client, path):
    book = BookFactory()
    url = path.format(book=book.pk, author=book.author_id)
    response = token_client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert token_client.head(url).status_code == 200
    assert token_client.options(url).status_code == 200
