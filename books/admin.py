"""Admin, tuned like the API: no query per changelist row."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from books.models import Author, AuthorQuerySet, Book, Genre, Publisher, Review

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from books.models import BookCount


@admin.register(Publisher)
class PublisherAdmin(admin.ModelAdmin):
    list_display = ["name", "country"]
    search_fields = ["name"]


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "born", "book_count"]
    search_fields = ["name"]
    list_filter = ["country"]
    # The changelist's "1,234 total" COUNT(*) is the slow part on big tables.
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Author]:
        authors = cast(AuthorQuerySet, super().get_queryset(request))  # Author.objects
        return authors.with_book_count()

    @admin.display(ordering="book_count")
    def book_count(self, obj: WithAnnotations[Author, BookCount]) -> int:
        return obj.book_count


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    """No review inline: a popular book has thousands of reviews, and an inline
    formset renders (and POSTs back) every one. A link opens them, filtered."""

    list_display = ["title", "author", "publisher", "published", "price"]
    list_select_related = ["author", "publisher"]
    list_filter = ["genres"]
    search_fields = ["title", "isbn"]
    date_hierarchy = "published"
    autocomplete_fields = ["author", "publisher", "genres"]
    show_full_result_count = False
    readonly_fields = ["created", "updated", "reviews"]

    @admin.display(description="Reviews")
    def reviews(self, obj: Book) -> str:
        # django-stubs type pk as int; the add form's unsaved book has None.
        if obj.pk is None:
            return "-"  # type: ignore[unreachable]
        url = reverse("admin:books_review_changelist") + f"?book__id__exact={obj.pk}"
        return format_html('<a href="{}">This book\'s reviews</a>', url)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["book", "reviewer", "rating", "created"]
    list_select_related = ["book"]
    list_filter = ["rating"]
    raw_id_fields = ["book", "user"]
    show_full_result_count = False
