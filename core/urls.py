"""Infrastructure routes, mounted at the site root by config/urls.py."""

from django.urls import path

from core.metrics import metrics
from core.views import BenchReportView, FaviconView, healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    # DEBUG only (a 404 otherwise): the report `make bench` last wrote.
    path("bench/", BenchReportView.as_view(), name="bench-report"),
]
