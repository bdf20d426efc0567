import logging

from django.apps import AppConfig


class BooksConfig(AppConfig):
    name = "books"
    verbose_name = "Books"

    def ready(self) -> None:
        from books import cache

        # The one place signals are connected: cache invalidation (STYLE rule 13).
        cache.connect_signals()
        # django-redis logs every swallowed Redis error to this logger; during an
        # outage that would be one traceback per cache call.
        logging.getLogger(cache.__name__).addFilter(cache.RateLimitFilter())
