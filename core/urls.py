"""Infrastructure routes, mounted at the site root by config/urls.py."""

from django.urls import path

from core.metrics import metrics
from core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]
