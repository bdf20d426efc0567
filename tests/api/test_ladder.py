"""The optimisation ladder: every rung returns /api/books/'s JSON, each with its
own, exact query count (constant for every rung but naive)."""

import pytest

from api.ladder import ALL_RUNGS
from tests.conftest import make_books
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db

QUERIES = {"eager": 3, "lean": 2, "values": 2, "raw": 1, "async": 2}
PARAMS = [
    {},
    {"page_size": "7"},
    {"ordering": "title", "page_size": "5"},
    {"ordering": "-title"},
    {"ordering": "published", "published_after": "2000-01-03"},
    {"genre": "fantasy", "published_before": "2099-12-31"},
    {"search": "e"},
    {"search": "100%_"},
]


def _same_page(rung_body: dict, tuned_body: dict, rung: str) -> None:
    assert rung_body["results"] == tuned_body["results"]
    for link in ("next", "previous"):
        expected = tuned_body[link]
        if expected is not None:
            expected = expected.replace("/api/books/", f"/api/ladder/{rung}/books/")
        assert rung_body[link] == expected, link


@pytest.mark.parametrize("rung", ALL_RUNGS)
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: "&".join(p) or "default")
def test_every_rung_returns_the_tuned_json(api_client, rung, params):
    books = make_books(30)
    ReviewFactory.create_batch(4, book=books[3], rating=2)
    BookFactory(publisher=None, title="A title with 100%_ in it")
    tuned = api_client.get("/api/books/", params).json()
    url = f"/api/ladder/{rung}/books/"
    body = api_client.get(url, params).json()
    _same_page(body, tuned, rung)
    assert tuned["results"], "a page with books"
    # The same cursor walks the same next page.
    if tuned["next"]:
        following = api_client.get(tuned["next"]).json()
        mine = api_client.get(body["next"]).json()
        _same_page(mine, following, rung)
        back = api_client.get(mine["previous"]).json()
        assert back["results"] == body["results"]


@pytest.mark.parametrize("size", [3, 25])
@pytest.mark.parametrize("rung", QUERIES)
def test_each_rung_runs_its_own_constant_number_of_queries(
    api_client, django_assert_num_queries, rung, size
):
    make_books(size)
    with django_assert_num_queries(QUERIES[rung]):
        assert api_client.get(f"/api/ladder/{rung}/books/").status_code == 200


@pytest.mark.parametrize("size", [3, 25])
def test_the_naive_rung_queries_per_row(api_client, django_assert_num_queries, size):
    make_books(size)
    rows = min(size, 20)
    with django_assert_num_queries(1 + 4 * rows):  # author, publisher, genres, rating
        api_client.get("/api/ladder/naive/books/")


def test_the_ceiling_is_a_constant_page_and_no_query(
    api_client, django_assert_num_queries
):
    make_books(20)
    with django_assert_num_queries(0):
        ceiling = api_client.get("/api/ladder/ceiling/")
    assert api_client.get("/api/ladder/ceiling/").content == ceiling.content
    page = api_client.get("/api/books/")
    body = ceiling.json()
    # A full default page of the list's shape: about the bytes a cache hit sends.
    assert len(body["results"]) == len(page.json()["results"]) == 20
    assert body["results"][0].keys() == page.json()["results"][0].keys()
    assert 0.7 < len(ceiling.content) / len(page.content) < 1.3


@pytest.mark.parametrize("rung", ALL_RUNGS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"published_after": "soon"}, "published_after"),
        ({"author": "x"}, "author"),
        ({"cursor": "garbage"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_bad_parameters_are_a_json_400_naming_them(api_client, rung, params, field):
    response = api_client.get(f"/api/ladder/{rung}/books/", params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_ladder_is_never_cached(api_client, django_assert_num_queries):
    make_books(3)
    api_client.get("/api/ladder/values/books/")
    with django_assert_num_queries(2):
        response = api_client.get("/api/ladder/values/books/")
    assert response["X-Cache"] == "MISS"


def test_writes_are_refused(api_client):
    assert api_client.post("/api/ladder/raw/books/", {}).status_code == 405
