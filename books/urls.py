"""HTML pages, mounted at the site root by config/urls.py."""

from django.urls import path

from books import views

app_name = "books"

urlpatterns = [
    path("", views.BookListView.as_view(), name="book-list"),
    path("books/<int:pk>/", views.BookDetailView.as_view(), name="book-detail"),
    path("authors/<int:pk>/", views.AuthorDetailView.as_view(), name="author-detail"),
]
