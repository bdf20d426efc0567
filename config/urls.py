from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from books.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("books.urls")),
]

# No traceback ever reaches a client: JSON under /api/, plain text elsewhere, and a
# database outage that escaped a view is still a 503.
handler500 = "books.middleware.server_error"

if settings.DEBUG:
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
