"""The JSON API, mounted once at /api/ by config/urls.py."""

app_name = "api"

urlpatterns: list = []
