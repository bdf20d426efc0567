"""The book-list parameters at the HTTP edge: validation errors as 400s, and the schema.

Validation itself is ``books.filters.BookFilters``, shared with the HTML list and the
naive twins; this module only turns its errors into DRF's 400 (one message list per
parameter) and describes the parameters to OpenAPI from the same form fields.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request

from books.filters import BookFilterForm, BookFilters


def book_filters(request: Request) -> BookFilters:
    """The validated book-list parameters; a bad one is a 400 naming it."""
    try:
        return BookFilters.from_query(request.query_params)
    except ValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc


def _schema(field: forms.Field) -> dict:
    """The JSON schema of one form field, with the same bounds the form enforces."""
    if isinstance(field, forms.IntegerField):
        return {
            "type": "integer",
            "minimum": field.min_value,
            "maximum": field.max_value,
        }
    if isinstance(field, forms.DateField):
        return {"type": "string", "format": "date"}
    if isinstance(field, forms.ChoiceField):
        # django-stubs type the getter as the setter's input; it returns (value,
        # label) pairs, normalized.
        choices = field.choices
        return {"type": "string", "enum": [v for v, _ in choices]}  # type: ignore[misc,union-attr]
    assert isinstance(field, forms.CharField)  # the form's other fields are text
    schema = {"type": "string", "maxLength": field.max_length}
    if isinstance(field, forms.SlugField):
        schema["pattern"] = r"^[-a-zA-Z0-9_]+$"
    return schema


def book_filter_parameters() -> list[OpenApiParameter]:
    """OpenAPI query parameters, read from ``BookFilterForm``'s fields."""
    return [
        OpenApiParameter(
            name,
            _schema(field),
            location=OpenApiParameter.QUERY,
            description=str(field.help_text),
        )
        for name, field in BookFilterForm.base_fields.items()
    ]
