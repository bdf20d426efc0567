"""Query parameters of the book lists: an allow-list, validated before any query runs.

Every parameter goes through ``BookFilterSerializer``, so a bad value is a 400 naming
the parameter (``{"published_after": ["Date has wrong format. ..."]}``), unknown
orderings never reach ``order_by()``, and NUL characters, which PostgreSQL rejects,
stop here (DRF's ``CharField`` refuses them).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from books.models import BookQuerySet

# ?ordering= value -> the full keyset, with id as the tie-breaker the cursor needs.
# "-published" is walked straight off the composite index book_published_id_idx.
BOOK_ORDERINGS: dict[str, tuple[str, str]] = {
    "-published": ("-published", "-id"),
    "published": ("published", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
}
DEFAULT_BOOK_ORDERING = "-published"
MAX_ID = 2**63 - 1  # BigAutoField: larger ids cannot exist, and would overflow


class BookFilterSerializer(serializers.Serializer):
    author = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Author id."
    )
    genre = serializers.SlugField(
        required=False, max_length=100, help_text="Genre slug."
    )
    publisher = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Publisher id."
    )
    published_after = serializers.DateField(
        required=False, help_text="Published on or after this ISO date."
    )
    published_before = serializers.DateField(
        required=False, help_text="Published on or before this ISO date."
    )
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Case-insensitive substring of the title or the author's name.",
    )
    ordering = serializers.ChoiceField(
        choices=list(BOOK_ORDERINGS),
        required=False,
        allow_blank=True,
        default=DEFAULT_BOOK_ORDERING,
        help_text="Sort order; id breaks ties.",
    )


def book_filter_params(request: Request) -> dict[str, Any]:
    """The validated book-list parameters; raises a 400 ``ValidationError``."""
    params = BookFilterSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    data = dict(params.validated_data)
    data["ordering"] = BOOK_ORDERINGS[data.get("ordering") or DEFAULT_BOOK_ORDERING]
    return data


def filter_books(books: BookQuerySet, params: dict[str, Any]) -> BookQuerySet:
    """Apply the validated parameters; ``ordering`` is the paginator's business."""
    if "author" in params:
        books = books.filter(author_id=params["author"])
    if "genre" in params:
        books = books.filter(genres__slug=params["genre"])
    if "publisher" in params:
        books = books.filter(publisher_id=params["publisher"])
    if "published_after" in params:
        books = books.filter(published__gte=params["published_after"])
    if "published_before" in params:
        books = books.filter(published__lte=params["published_before"])
    if params.get("search"):
        books = books.search(params["search"])
    return books
