"""OpenAPI document, offline docs, throttles (also with the cache down)."""

import pytest
import yaml
from rest_framework.throttling import AnonRateThrottle

from books.cache import breaker
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def parameters(schema: dict, path: str, method: str = "get") -> dict[str, dict]:
    return {p["name"]: p["schema"] for p in schema["paths"][path][method]["parameters"]}


def test_schema_documents_every_endpoint(schema):
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/books/",
        "/api/books/{id}/",
        "/api/books/{id}/reviews/",
        "/api/authors/",
        "/api/authors/{id}/",
        "/api/genres/",
        "/api/publishers/",
        "/api/naive/books/",
        "/api/naive/authors/",
    ]:
        assert path in schema["paths"], path


def test_schema_types_the_book_list_parameters(schema):
    params = parameters(schema, "/api/books/")
    assert params["author"]["type"] == params["publisher"]["type"] == "integer"
    assert params["published_after"] == {"type": "string", "format": "date"}
    assert params["published_before"] == {"type": "string", "format": "date"}
    assert params["genre"]["type"] == params["search"]["type"] == "string"
    assert set(params["ordering"]["enum"]) >= {
        "published",
        "-published",
        "title",
        "-title",
    }
    assert "maximum" not in params["page_size"]  # larger values are clamped
    assert params["page_size"]["minimum"] == 1
    assert params["cursor"]["type"] == "string"
    assert parameters(schema, "/api/naive/books/") == params


def test_schema_types_the_book_fields(schema):
    book = schema["components"]["schemas"]["BookList"]["properties"]
    assert book["price"]["type"] == "string" and book["price"]["format"] == "decimal"
    assert book["published"] == {"type": "string", "format": "date"}
    assert book["url"]["format"] == "uri"
    assert book["genres"]["type"] == "array"
    rating = schema["components"]["schemas"]["Rating"]["properties"]
    assert rating["average"]["type"] == "number"
    assert rating["average"]["nullable"] is True
    assert rating["count"]["type"] == "integer"
    page = schema["paths"]["/api/books/"]["get"]["responses"]["200"]
    listed = page["content"]["application/json"]["schema"]["$ref"]
    paginated = schema["components"]["schemas"][listed.rsplit("/", 1)[1]]
    assert set(paginated["properties"]) == {"next", "previous", "results"}


def test_swagger_ui_is_served_without_internet(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower()


@pytest.fixture
def two_per_minute(monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "rate", "2/min", raising=False)


def test_anonymous_requests_are_throttled(api_client, two_per_minute):
    BookFactory()
    statuses = [api_client.get("/api/naive/books/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api_client.get("/api/naive/books/")
    assert response.json()["detail"].startswith("Request was throttled.")
    assert int(response["Retry-After"]) > 0


def test_with_the_cache_down_throttling_stops_and_requests_are_served(
    api_client, two_per_minute, settings
):
    """The chosen failure mode (see REST_FRAMEWORK in settings): a counter that
    cannot be read counts nothing, so nobody is throttled and nothing 500s, and the
    cache's breaker opens, so the next requests do not wait on Redis' timeout. Port 1
    refuses connections: a Redis that is down."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.1,
                "SOCKET_TIMEOUT": 0.1,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    BookFactory()
    try:
        statuses = {api_client.get("/api/naive/books/").status_code for _ in range(4)}
        tripped = not breaker.cache_available()
    finally:
        breaker.reset()
    assert statuses == {200}
    assert tripped
