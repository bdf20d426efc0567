"""One exception handler: every API error is a JSON object with a 4xx status."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from books.services import Conflict


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "payload_too_large"


class ConflictError(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current data."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, taught five more exceptions.

    - ``RequestDataTooBig`` (body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, raised while
      DRF reads ``request.data``): JSON 413 instead of Django's plain-text 400.
    - ``TooManyFieldsSent`` (a form body over ``DATA_UPLOAD_MAX_NUMBER_FIELDS``, also
      raised while reading ``request.data``): JSON 400 instead of Django's HTML one.
    - Django's ``ValidationError`` from a service's ``full_clean()``: 400 with the same
      field -> messages shape as serializer errors.
    - ``books.services.Conflict`` (e.g. deleting an author who has books): 409.
    - ``ObjectDoesNotExist`` from a service that re-reads its row under a lock (the
      row was deleted since the view found it): 404, as if it had been gone before.
    """
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(
            f"Too many form fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."
        )
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Conflict):
        exc = ConflictError(str(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
