from django.apps import AppConfig


class BooksConfig(AppConfig):
    name = "books"
    verbose_name = "Books"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from books import roles, tasks
        from books.cache import freshness
        from core.db import replicas

        # Every connection reports its catalogue writes, so the writer publishes the
        # new version once per transaction (books.cache.freshness).
        connection_created.connect(
            freshness.watch_connection, dispatch_uid="books.freshness.watch"
        )
        # A replica serves a cache fill for generation g only once it has replayed
        # version g of the catalogue (core.db.replicas).
        replicas.register_version_sql(freshness.VERSION_SQL)
        # A published version makes the hottest pages worth re-rendering.
        freshness.catalogue_published.connect(
            tasks.schedule_cache_warm, dispatch_uid="books.tasks.warm"
        )
        # The editors group outlives a flush (books.roles); sent after this app's
        # permissions exist.
        post_migrate.connect(
            roles.ensure_groups, sender=self, dispatch_uid="books.roles.groups"
        )
