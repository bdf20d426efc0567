"""The one router of the API. Basenames are explicit so that route names are stable:
``api:book-list``, ``api:book-detail``, ``api:book-reviews``, ``api:naive-book-list``...
(``bench`` discovers the endpoints through them).

No format-suffix routes (``/api/books/7.json``): every response is negotiated from
``Accept`` (or ``?format=``), and the suffix variants only doubled the URL space and
the schema; on actions that take no ``format`` argument they were a TypeError 500.
"""

from rest_framework.routers import DefaultRouter

from api import naive, viewsets


class Router(DefaultRouter):
    """DRF's DefaultRouter (with its API root), without format-suffix routes."""

    include_format_suffixes = False


router = Router()
router.register("books", viewsets.BookViewSet, basename="book")
router.register("authors", viewsets.AuthorViewSet, basename="author")
router.register("genres", viewsets.GenreViewSet, basename="genre")
router.register("publishers", viewsets.PublisherViewSet, basename="publisher")
router.register("reviews", viewsets.ReviewViewSet, basename="review")
router.register("naive/books", naive.NaiveBookViewSet, basename="naive-book")
router.register("naive/authors", naive.NaiveAuthorViewSet, basename="naive-author")
