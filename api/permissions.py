"""Who may write what. Reading is open to everyone (the contract), writing is not.

- Catalogue (books, authors, genres, publishers): the model's add/change/delete
  permission, which members of the ``editors`` group have (``books`` migration
  0004), or staff. Anyone else signed in gets 403; anonymous requests 401.
- Reviews: any signed-in user may post one (as themselves); only its writer or staff
  may change or delete it.
"""

from __future__ import annotations

from rest_framework.permissions import (
    SAFE_METHODS,
    BasePermission,
    DjangoModelPermissions,
)
from rest_framework.request import Request
from rest_framework.views import APIView


def is_staff(request: Request) -> bool:
    return bool(
        request.user and request.user.is_authenticated and request.user.is_staff
    )


class CatalogueWritePermission(DjangoModelPermissions):
    """``DjangoModelPermissionsOrAnonReadOnly`` where reads cost nothing, plus staff.

    Reads return before DRF asks the view for its queryset or the user for
    permissions, so they add no query. Writes need ``<app>.<action>_<model>`` for the
    view's model (``add`` for POST, ``change`` for PUT/PATCH, ``delete`` for DELETE);
    DRF's own class raises 401 for anonymous writes and 403 for the rest.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS or is_staff(request):
            return True
        return super().has_permission(request, view)


class IsWriterOrStaff(BasePermission):
    """Object level: only a review's writer, or staff, may change or delete it.

    Seeded reviews have no ``user``, so only staff may change those.
    """

    message = "Only the review's writer or staff may change or delete it."

    def has_object_permission(self, request: Request, view: APIView, obj) -> bool:
        if request.method in SAFE_METHODS or is_staff(request):
            return True
        return obj.user_id is not None and obj.user_id == request.user.pk
