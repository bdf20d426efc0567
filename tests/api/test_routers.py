"""The router: stable names, and no format-suffix routes."""

import pytest
import yaml

from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/books.json",
        "/api/books/{book}.json",
        "/api/books/{book}/reviews.json",
        "/api/reviews/{review}.json",
        "/api/authors.json",
        "/api/naive/books.json",
        "/api/.json",
    ],
)
def test_format_suffix_paths_are_a_json_404(api_client, path):
    review = ReviewFactory(book=BookFactory())
    response = api_client.get(path.format(book=review.book_id, review=review.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_format_is_still_negotiable_by_query_parameter(api_client):
    book = BookFactory()
    response = api_client.get(f"/api/books/{book.pk}/reviews/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_the_schema_lists_no_suffix_routes(api_client):
    schema = yaml.safe_load(api_client.get("/api/schema/").content)
    # The one dotted path is the export's own name, not a suffix of another route.
    suffixed = [p for p in schema["paths"] if "format" in p or "." in p]
    assert suffixed == ["/api/books/export.ndjson"]
