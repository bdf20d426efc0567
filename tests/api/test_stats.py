"""GET /api/stats/ and the home page's summary line: figures from the beat task."""

import pytest

from books.tasks import refresh_catalogue_stats

pytestmark = pytest.mark.django_db


def test_stats_come_from_the_cache_with_their_age(
    api_client, book_factory, django_assert_num_queries
):
    book_factory(3, reviews_per_book=2)
    refresh_catalogue_stats()
    with django_assert_num_queries(0):
        body = api_client.get("/api/stats/").json()
    assert (body["books"], body["authors"], body["reviews"]) == (3, 2, 6)
    assert 0 <= body["age_seconds"] < 60


def test_stats_are_computed_once_when_the_cache_lost_them(
    api_client, book_factory, django_assert_num_queries
):
    book_factory(1)
    with django_assert_num_queries(2):  # one aggregate per table
        assert api_client.get("/api/stats/").json()["books"] == 1
    with django_assert_num_queries(0):
        api_client.get("/api/stats/")


def test_the_home_page_shows_the_figures_only_once_computed(client, book_factory):
    book_factory(2)
    assert "counted in the background" not in client.get("/").content.decode()
    refresh_catalogue_stats()
    html = client.get("/?genre=crime").content.decode()
    assert "2 books by 2 authors" in html and "counted in the background" in html


def test_admin_book_page_links_to_its_reviews_instead_of_inlining_them(
    admin_client, book_factory
):
    book = book_factory(1, reviews_per_book=30)[0]
    html = admin_client.get(f"/admin/books/book/{book.pk}/change/").content.decode()
    assert f"/admin/books/review/?book__id__exact={book.pk}" in html
    assert "reviews-TOTAL_FORMS" not in html
