"""A tiny URLconf for bench tests: a tuned and a naive book list, a detail, a page.

It mirrors the real routes' names (``api:book-list``, ``api:naive-book-list``,
``books:book-detail``) so discovery treats it exactly like the project's URLconf.
"""

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path

from books.models import Book


def _row(book: Book) -> dict:
    return {"id": book.pk, "title": book.title, "author": book.author.name}


def book_list(request: HttpRequest) -> JsonResponse:
    size = int(request.GET.get("page_size", 20))
    books = Book.objects.select_related("author").order_by("-published", "-id")
    return JsonResponse({"next": None, "results": [_row(b) for b in books[:size]]})


def naive_book_list(request: HttpRequest) -> JsonResponse:
    size = int(request.GET.get("page_size", 20))
    books = Book.objects.order_by("-published", "-id")[:size]
    rows = []
    for book in books:
        rows.append(_row(book))  # book.author: one query per book, the N+1
    return JsonResponse({"next": None, "results": rows})


def book_detail(request: HttpRequest, pk: int) -> JsonResponse:
    return JsonResponse(
        _row(get_object_or_404(Book.objects.select_related("author"), pk=pk))
    )


api = [
    path("books/", book_list, name="book-list"),
    path("naive/books/", naive_book_list, name="naive-book-list"),
    path("books/<int:pk>/", book_detail, name="book-detail"),
]
pages = [path("books/<int:pk>/", book_detail, name="book-detail")]

urlpatterns = [
    path("api/", include((api, "api"))),
    path("", include((pages, "books"))),
]
