import logging

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Infrastructure"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from core.db.instrument import watch_connection
        from core.logs import RateLimitFilter

        # Every connection counts its queries and logs the slow ones, for its life.
        connection_created.connect(watch_connection, dispatch_uid="core-instrument")

        # django-redis logs every swallowed Redis error; during an outage that would be
        # one traceback per cache call. One line a minute says the same.
        name = getattr(settings, "DJANGO_REDIS_LOGGER", None)
        if name:
            logging.getLogger(name).addFilter(RateLimitFilter())
