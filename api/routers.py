"""The one router of the API. Basenames are explicit so that route names are stable:
``api:book-list``, ``api:book-detail``, ``api:book-reviews``, ``api:naive-book-list``...
(``bench`` discovers the endpoints through them)."""

from rest_framework.routers import DefaultRouter

from api import naive, viewsets

router = DefaultRouter()
router.register("books", viewsets.BookViewSet, basename="book")
router.register("authors", viewsets.AuthorViewSet, basename="author")
router.register("genres", viewsets.GenreViewSet, basename="genre")
router.register("publishers", viewsets.PublisherViewSet, basename="publisher")
router.register("reviews", viewsets.ReviewViewSet, basename="review")
router.register("naive/books", naive.NaiveBookViewSet, basename="naive-book")
router.register("naive/authors", naive.NaiveAuthorViewSet, basename="naive-author")
