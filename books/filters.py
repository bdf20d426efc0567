"""The book-list parameters: validated once, into one object every list reads.

``BookFilters.from_query(request.GET)`` checks every parameter through a Django form
(an allow-list: unknown orderings never reach ``order_by()``, a bad value is an error
naming the parameter) and ``BookQuerySet.filter_by()`` applies the result. The API,
the HTML list and the naive twins all take their parameters from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from books.keyset import MAX_INT, Ordering

# ?ordering= value -> the full keyset, with id as the tie-breaker the cursor needs.
# "-published" is walked straight off the composite index book_published_id_idx.
BOOK_ORDERINGS: dict[str, Ordering] = {
    "-published": ("-published", "-id"),
    "published": ("published", "id"),
    "title": ("title", "id"),
    "-title": ("-title", "-id"),
}
DEFAULT_BOOK_ORDERING = "-published"
ISO_DATE = ["%Y-%m-%d"]


class BookFilterForm(forms.Form):
    author = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_INT, help_text="Author id."
    )
    genre = forms.SlugField(required=False, max_length=100, help_text="Genre slug.")
    publisher = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_INT, help_text="Publisher id."
    )
    published_after = forms.DateField(
        required=False,
        input_formats=ISO_DATE,
        help_text="Published on or after this ISO date (YYYY-MM-DD).",
    )
    published_before = forms.DateField(
        required=False,
        input_formats=ISO_DATE,
        help_text="Published on or before this ISO date (YYYY-MM-DD).",
    )
    search = forms.CharField(
        required=False,
        max_length=100,
        help_text="Case-insensitive substring of the title or the author's name.",
    )
    ordering = forms.ChoiceField(
        required=False,
        choices=[(key, key) for key in BOOK_ORDERINGS],
        help_text="Sort order; id breaks ties. Default -published.",
    )


@dataclass(frozen=True)
class BookFilters:
    """Validated book-list parameters; ``ordering`` is the full keyset."""

    author: int | None = None
    genre: str | None = None
    publisher: int | None = None
    published_after: Any = None  # datetime.date
    published_before: Any = None
    search: str = ""
    ordering: Ordering = BOOK_ORDERINGS[DEFAULT_BOOK_ORDERING]

    PARAMETERS = frozenset(BookFilterForm.base_fields)

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> BookFilters:
        """Validate ``query`` (a QueryDict); ``ValidationError`` names each bad one."""
        if not any(name in query for name in cls.PARAMETERS):
            return DEFAULT_FILTERS  # the common case: building a form costs ~0.1 ms
        form = BookFilterForm(data=query)
        if not form.is_valid():
            raise ValidationError(
                {field: list(errors) for field, errors in form.errors.items()}
            )
        data = dict(form.cleaned_data)
        data["ordering"] = BOOK_ORDERINGS[data["ordering"] or DEFAULT_BOOK_ORDERING]
        data["genre"] = data["genre"] or None
        return cls(**data)

    def as_query(self) -> dict[str, str]:
        """The non-default parameters, as a query string would carry them."""
        query = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "ordering":
                if value != BOOK_ORDERINGS[DEFAULT_BOOK_ORDERING]:
                    query["ordering"] = next(
                        k for k, v in BOOK_ORDERINGS.items() if v == value
                    )
            elif value not in (None, ""):
                query[field.name] = str(value)
        return query


DEFAULT_FILTERS = BookFilters()
