"""The JSON API, mounted once at /api/ by config/urls.py."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import ladder
from api.export import BookExportView
from api.routers import router
from api.viewsets import CatalogueStatsView

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI under the site's CSP: the split view serves its start-up script from
    # /api/docs/?script= instead of inline, and the page's one inline <style> carries
    # the request's nonce (templates/api/swagger_ui.html). No policy is loosened.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    path("stats/", CatalogueStatsView.as_view(), name="stats"),
    path("ladder/ceiling/", ladder.ceiling, name="ladder-ceiling"),
    *(
        path(
            f"ladder/{rung}/books/",
            ladder.ladder_books,
            {"rung": rung},
            name=f"ladder-books-{rung}",
        )
        for rung in ladder.RUNGS
    ),
    path(
        "ladder/async/books/",
        ladder.ladder_books_async,
        name=f"ladder-books-{ladder.ASYNC_RUNG}",
    ),
    # Before the router's routes: a fixed path, never a book id.
    path("books/export.ndjson", BookExportView.as_view(), name="book-export"),
    *router.urls,
]
