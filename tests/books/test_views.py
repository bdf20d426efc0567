"""HTML pages: content, keyset pagination, query counts cold and warm, freshness,
ETag/304 through GZip, and the production static pipeline."""

import gzip
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from books.models import Book
from tests.factories import BookFactory, GenreFactory, ReviewFactory

pytestmark = pytest.mark.django_db

LIST = reverse("books:book-list")


def book_url(book) -> str:
    return reverse("books:book-detail", args=[book.pk])


def author_url(author) -> str:
    return reverse("books:author-detail", args=[author.pk])


# --- Content and links ----------------------------------------------------------------


def test_book_list_links_books_authors_and_genres(client, book_factory):
    book = book_factory(3)[0]
    html = client.get(LIST).content.decode()
    assert book.title in html
    assert book_url(book) in html
    assert author_url(book.author) in html
    assert "?genre=fantasy" in html
    assert "/static/css/site.css" in html


def test_book_detail_shows_reviews_genres_and_author(client, book_factory):
    book = book_factory(1, reviews_per_book=0)[0]
    ReviewFactory(book=book, reviewer="Ada Reviewer", rating=5, body="Loved it.")
    response = client.get(book_url(book))
    html = response.content.decode()
    assert response.status_code == 200
    assert all(s in html for s in (book.title, "Ada Reviewer", "Loved it.", "Crime"))
    assert author_url(book.author) in html


def test_author_detail_lists_their_books(client, book_factory):
    books = book_factory(4)
    author = books[0].author
    html = client.get(author_url(author)).content.decode()
    mine = [b for b in books if b.author_id == author.pk]
    assert all(book_url(b) in html for b in mine)
    assert all(book_url(b) not in html for b in books if b not in mine)


def test_missing_book_and_author_are_404(client):
    assert client.get("/books/999999/").status_code == 404
    assert client.get("/authors/999999/").status_code == 404


def test_genre_filter_shows_only_that_genre(client):
    poetry = GenreFactory(name="Poetry")
    inside = BookFactory(genres=[poetry])
    outside = BookFactory()
    html = client.get(LIST, {"genre": "poetry"}).content.decode()
    assert book_url(inside) in html and book_url(outside) not in html


# --- Keyset pagination ----------------------------------------------------------------


def _page_ids(response) -> list[int]:
    return [b.pk for b in response.context["books"]]


def test_keyset_pages_walk_every_book_once_in_order(client, book_factory):
    book_factory(45, reviews_per_book=0)
    expected = Book.objects.order_by("-published", "-id").values_list("pk", flat=True)
    seen, url = [], LIST
    while url:
        response = client.get(url)
        seen += _page_ids(response)
        next_url = response.context["page_obj"].next_url
        url = LIST + next_url if next_url else None
    assert seen == list(expected)


def test_previous_link_returns_to_the_same_page(client, book_factory):
    book_factory(45, reviews_per_book=0)
    first = client.get(LIST)
    second = client.get(LIST + first.context["page_obj"].next_url)
    back = client.get(LIST + second.context["page_obj"].previous_url)
    assert _page_ids(back) == _page_ids(first)
    assert back.context["page_obj"].previous_url is None


def test_same_day_books_are_split_by_id(client):
    import datetime

    day = datetime.date(2020, 1, 1)
    BookFactory.create_batch(25, published=day)
    first = client.get(LIST)
    second = client.get(LIST + first.context["page_obj"].next_url)
    assert len(_page_ids(first)) == 20 and len(_page_ids(second)) == 5
    assert not set(_page_ids(first)) & set(_page_ids(second))


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "yesterday"},
        {"cursor": "eyJvIjoiLXB1Ymxpc2hlZCwtaWQiLCJ2IjpbIngiLDFdLCJyIjowfQ"},
        {"published_after": "soon"},
        {"author": "abc"},
    ],
)
def test_malformed_parameters_are_400_not_500(client, query):
    assert client.get(LIST, query).status_code == 400


def test_the_list_takes_the_api_filters_and_cursors(client, book_factory):
    book_factory(50, reviews_per_book=0)
    author = Book.objects.first().author
    page = client.get(LIST, {"author": author.pk, "ordering": "title"})
    titles = [b.title for b in page.context["books"]]
    assert titles == sorted(titles) and len(titles) == 20
    assert {b.author_id for b in page.context["books"]} == {author.pk}
    following = client.get(LIST + page.context["page_obj"].next_url)
    assert len(following.context["books"].object_list) == 5
    assert "author=" in page.context["page_obj"].next_url


# --- Query counts: cold and warm, at two data sizes -----------------------------------


@pytest.mark.parametrize("size", [1, 30])
def test_book_list_runs_three_queries_cold_and_none_warm(
    size, client, book_factory, django_assert_num_queries
):
    book_factory(size)
    with django_assert_num_queries(3):  # books, their genres, the genre sidebar
        cold = client.get(LIST)
    with django_assert_num_queries(0):
        warm = client.get(LIST)
    assert (cold.headers["X-Cache"], warm.headers["X-Cache"]) == ("MISS", "HIT")
    assert warm.content == cold.content


@pytest.mark.parametrize("size", [1, 30])
def test_book_detail_runs_four_queries_cold_and_none_warm(
    size, client, book_factory, django_assert_num_queries
):
    book = book_factory(size)[0]
    # The book, its genres, its newest reviews, and the genre sidebar.
    with django_assert_num_queries(4):
        client.get(book_url(book))
    with django_assert_num_queries(0):
        client.get(book_url(book))


@pytest.mark.parametrize("size", [1, 30])
def test_author_detail_runs_four_queries_cold_and_none_warm(
    size, client, book_factory, django_assert_num_queries
):
    author = book_factory(size)[0].author
    # The author, their books, those books' genres, and the genre sidebar.
    with django_assert_num_queries(4):
        client.get(author_url(author))
    with django_assert_num_queries(0):
        client.get(author_url(author))


def test_fragments_spare_queries_on_other_pages(
    client, book_factory, django_assert_num_queries
):
    """Fragments rendered for / serve other pages: the sidebar costs no query."""
    book = book_factory(5)[0]
    client.get(LIST)
    with django_assert_num_queries(2):  # books + genres; the sidebar is cached
        client.get(LIST, {"genre": "crime"})
    with django_assert_num_queries(3):  # the book, genres, reviews; no sidebar
        client.get(book_url(book))


# --- Freshness: a write is visible on the very next read ------------------------------


def test_new_book_shows_on_the_next_list_read(
    client, book_factory, django_capture_on_commit_callbacks
):
    book_factory(2)
    client.get(LIST)
    with django_capture_on_commit_callbacks(execute=True):
        new = BookFactory(title="Brand New Arrival")
    response = client.get(LIST)
    assert response.headers["X-Cache"] == "MISS"
    assert new.title in response.content.decode()


def test_author_rename_shows_on_list_book_and_author_pages(
    client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(2)[0]
    pages = [LIST, book_url(book), author_url(book.author)]
    for url in pages:
        client.get(url)
        assert client.get(url).headers["X-Cache"] == "HIT"
    with django_capture_on_commit_callbacks(execute=True):
        book.author.name = "Zadie Renamed"
        book.author.save()
    for url in pages:
        assert "Zadie Renamed" in client.get(url).content.decode(), url


def test_admin_edit_shows_on_the_next_page_read(
    client, admin_client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    author = book.author
    client.get(LIST)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:books_author_change", args=[author.pk]),
            {"name": "Edited In Admin", "bio": "", "born": "", "country": "Peru"},
        )
    assert response.status_code == 302
    html = client.get(LIST).content.decode()
    assert "Edited In Admin" in html


def test_new_review_updates_the_rating_on_the_book_page(
    client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1, reviews_per_book=0)[0]
    assert "No reviews yet" in client.get(book_url(book)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        ReviewFactory(book=book, rating=3, reviewer="Late Reader")
    html = client.get(book_url(book)).content.decode()
    assert "Late Reader" in html and "3.00" in html


def test_queryset_update_is_visible_with_no_help(
    client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    client.get(book_url(book))
    with django_capture_on_commit_callbacks(execute=True):
        Book.objects.filter(pk=book.pk).update(title="Updated In Bulk")
    assert "Updated In Bulk" in client.get(book_url(book)).content.decode()


def test_deleted_book_is_404_on_the_next_read(
    client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    url = book_url(book)
    client.get(url)
    with django_capture_on_commit_callbacks(execute=True):
        book.delete()
    assert client.get(url).status_code == 404


# --- Conditional GET, GZip ------------------------------------------------------------


def test_matching_etag_is_304_with_no_body_and_no_query(
    client, book_factory, django_assert_num_queries
):
    book_factory(3)
    etag = client.get(LIST).headers["ETag"]
    assert etag.startswith('"')
    with django_assert_num_queries(0):
        response = client.get(LIST, headers={"if-none-match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["ETag"] == etag


def test_gzip_weakens_the_etag_and_the_weak_form_still_matches(
    client, book_factory, django_assert_num_queries
):
    book_factory(5)
    plain = client.get(LIST)
    zipped = client.get(LIST, headers={"accept-encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert len(zipped.content) < len(plain.content) / 3
    assert zipped.headers["ETag"] == "W/" + plain.headers["ETag"]
    assert "Accept-Encoding" in zipped.headers["Vary"]
    with django_assert_num_queries(0):
        revalidated = client.get(
            LIST,
            headers={
                "if-none-match": zipped.headers["ETag"],
                "accept-encoding": "gzip",
            },
        )
    assert revalidated.status_code == 304


def test_etag_changes_after_a_write(
    client, book_factory, django_capture_on_commit_callbacks
):
    book = book_factory(1)[0]
    etag = client.get(book_url(book)).headers["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        book.title = "Second Edition"
        book.save()
    response = client.get(book_url(book), headers={"if-none-match": etag})
    assert response.status_code == 200
    assert "Second Edition" in response.content.decode()


def test_pages_carry_server_timing(client, book_factory):
    book_factory(1)
    timing = client.get(LIST).headers["Server-Timing"]
    assert "db;dur=" in timing and "cache;dur=" in timing and "total;dur=" in timing


def test_unknown_query_parameters_share_the_page_entry(client, book_factory):
    book_factory(1)
    client.get(LIST)
    assert client.get(LIST, {"utm_source": "x", "junk": "1"}).headers["X-Cache"] == (
        "HIT"
    )
    assert client.get(LIST, {"genre": "crime"}).headers["X-Cache"] == "MISS"


def test_logged_in_list_page_reads_its_cards_from_the_fragment(
    client, book_factory, django_user_model, django_assert_num_queries
):
    """Logged-in visitors skip the page cache; the fragments still serve them (the
    pages never touch the session, so not even it is loaded)."""
    book_factory(5)
    client.force_login(django_user_model.objects.create_user("reader"))
    first = client.get(LIST)
    with django_assert_num_queries(0):
        again = client.get(LIST)
    assert "X-Cache" not in again.headers
    assert again.content == first.content


def test_logged_in_users_bypass_the_shared_page_cache(
    client, book_factory, django_user_model, django_capture_on_commit_callbacks
):
    book_factory(1)
    user = django_user_model.objects.create_user("reader", password="pw-123456")
    client.force_login(user)
    first = client.get(LIST)
    assert "X-Cache" not in first.headers and "ETag" not in first.headers
    client.logout()
    # Nothing was stored for the anonymous visitor either.
    assert client.get(LIST).headers["X-Cache"] == "MISS"


# --- Static files ---------------------------------------------------------------------


def test_collectstatic_writes_hashed_and_precompressed_files(settings, tmp_path):
    """The production pipeline: manifest names plus .gz and .br siblings."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "core.storage.StaticStorage"},
    }
    # Only the project's own files: the apps' bundles would just make this slow.
    settings.STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder"
    ]
    call_command("collectstatic", interactive=False, verbosity=0)
    hashed = list(Path(tmp_path, "css").glob("site.*.css"))
    assert len(hashed) == 1, hashed
    assert Path(f"{hashed[0]}.gz").exists()
    assert Path(f"{hashed[0]}.br").exists()
    assert Path(tmp_path, "staticfiles.json").exists()


# --- The home page's banner -----------------------------------------------------------


def test_home_page_points_to_the_comparison_and_the_docs(client, book_factory):
    book_factory(1)

    html = client.get("/").content.decode()

    assert 'class="banner"' in html
    for url in ("/api/books/", "/api/naive/books/", "/api/docs/"):
        assert f'href="{url}"' in html
    assert "/bench/" not in html  # the report is served under DEBUG only


def test_under_debug_the_banner_links_the_bench_report(client, debug, book_factory):
    book_factory(1)

    assert 'href="/bench/"' in client.get("/").content.decode()


def test_filtered_and_later_pages_carry_no_banner(client, book_factory):
    book_factory(1)

    assert 'class="banner"' not in client.get("/?genre=fantasy").content.decode()
