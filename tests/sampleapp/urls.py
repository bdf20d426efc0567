"""Permissions as JSON: a tuned list, its naive twin, and a detail by pk.

No picks are declared, so bench fills the detail's ``pk`` with the first permission.
"""

from django.contrib.auth.models import Permission
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import include, path


def _row(permission: Permission) -> dict:
    return {
        "id": permission.pk,
        "codename": permission.codename,
        "app_label": permission.content_type.app_label,
    }


def _page(request: HttpRequest, permissions: QuerySet[Permission]) -> JsonResponse:
    limit = int(request.GET.get("limit", 20))
    return JsonResponse({"results": [_row(p) for p in permissions[:limit]]})


def permission_list(request: HttpRequest) -> JsonResponse:
    return _page(request, Permission.objects.select_related("content_type"))


def naive_permission_list(request: HttpRequest) -> JsonResponse:
    # permission.content_type: one query per row, the N+1 bench must find.
    return _page(request, Permission.objects.order_by("pk"))


def permission_detail(request: HttpRequest, pk: int) -> JsonResponse:
    permissions = Permission.objects.select_related("content_type")
    return JsonResponse(_row(get_object_or_404(permissions, pk=pk)))


sample = [
    path("permissions/", permission_list, name="permission-list"),
    path("naive/permissions/", naive_permission_list, name="naive-permission-list"),
    path("permissions/<int:pk>/", permission_detail, name="permission-detail"),
]

urlpatterns = [path("sample/", include((sample, "sample")))]
