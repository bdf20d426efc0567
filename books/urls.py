app_name = "books"

urlpatterns: list = []
