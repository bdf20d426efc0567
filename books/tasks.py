"""Background work, sent only after the transaction that made it necessary commits.

Every task is idempotent (it recomputes from the database and overwrites), so
``acks_late`` redelivery after a worker crash is safe, and retries back off with
jitter on transient database errors. Sending goes through ``BookshelfTask``'s
``delay_on_commit``: a broker outage at enqueue time is logged, never raised, so the
committed write stands and the request still succeeds.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import task_prerun
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Avg, Count, Max, Min
from django.utils import timezone

from books import cache as book_cache
from books.models import Book, Review
from config.logs import request_id_var

logger = logging.getLogger(__name__)

# Errors worth retrying: the database restarting, a pool wait running out.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 60,  # far below the broker's 1 h visibility timeout
    "retry_jitter": True,
    "max_retries": 5,
}


class BookshelfTask(DjangoTask):
    """``DjangoTask`` whose on-commit sends log a broker outage instead of raising.

    Without this, ``delay_on_commit`` would raise out of the ``on_commit`` callback
    after the write committed, and the client would see a 500 for a saved write.
    """

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        transaction.on_commit(functools.partial(self._send_or_log, args, kwargs))

    def apply_async_on_commit(
        self, args: tuple = (), kwargs: dict | None = None, **options: Any
    ) -> None:
        transaction.on_commit(
            functools.partial(self._send_or_log, args, kwargs or {}, **options)
        )

    def _send_or_log(self, args: tuple, kwargs: dict, **options: Any) -> None:
        # The request that caused the task travels with it, so its log lines join up.
        options.setdefault("headers", {}).setdefault("request_id", request_id_var.get())
        try:
            self.apply_async(args, kwargs, **options)
        except Exception:
            # Reported, not silently lost: the periodic refresh and the cache TTLs
            # repair whatever this send would have done.
            logger.exception(
                "could not enqueue %s", self.name, extra={"task": self.name}
            )


@task_prerun.connect(dispatch_uid="books.tasks.request_id")
def _adopt_request_id(task=None, task_id: str = "", **_: Any) -> None:
    headers = getattr(task.request, "headers", None) or {}
    incoming = getattr(task.request, "request_id", None) or headers.get("request_id")
    request_id_var.set(incoming if incoming and incoming != "-" else f"task-{task_id}")


@shared_task(base=BookshelfTask, acks_late=True, **RETRY)
def refresh_catalogue_stats() -> dict[str, Any]:
    """Recompute the catalogue-wide figures and cache them: two aggregate queries.

    The project keeps no denormalised counters (ratings are subquery annotations), so
    there is nothing to repair row by row; this is the one set-based job worth
    running on a schedule. Idempotent: it overwrites the cached value.
    """
    stats: dict[str, Any] = Book.objects.aggregate(
        books=Count("pk"),
        authors=Count("author", distinct=True),
        average_price=Avg("price"),
        first_published=Min("published"),
        last_published=Max("published"),
    )
    stats |= Review.objects.aggregate(reviews=Count("pk"), average_rating=Avg("rating"))
    stats["average_price"] = _round(stats["average_price"])
    stats["average_rating"] = _round(stats["average_rating"])
    for key in ("first_published", "last_published"):
        stats[key] = stats[key].isoformat() if stats[key] else None
    stats["computed_at"] = timezone.now().isoformat()
    cache.set(book_cache.catalogue_stats_key(), stats, book_cache.CATALOGUE_STATS_TTL)
    logger.info("catalogue stats refreshed", extra={"books": stats["books"]})
    return stats


def catalogue_stats() -> dict[str, Any]:
    """The cached catalogue figures, computed in-process on a miss."""
    return cache.get(book_cache.catalogue_stats_key()) or refresh_catalogue_stats()


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


@shared_task(base=BookshelfTask, acks_late=True, **RETRY)
def warm_hot_cache() -> dict[str, str]:
    """Refill the hottest cached pages and endpoints after a write invalidated them.

    Idempotent: it renders exactly what the next anonymous visitor would have cached
    (``books.cache.warm_hot_keys``). Returns ``{path: "HIT" | "MISS" | status}``.
    """
    cache.delete(book_cache.warm_pending_key())  # later writes schedule a fresh warm
    results = book_cache.warm_hot_keys()
    logger.info("hot cache warmed", extra={"paths": results})
    return results


def schedule_cache_warm() -> None:
    """Warm the hot keys once the current transaction commits.

    Called by ``books.cache`` after every catalogue write commits; a burst of writes
    shares one warm: the first queues it, the rest find it pending.

    Skipped when tasks run eagerly (no broker): warming inline would double the
    latency of the write, and the next reader fills the cache anyway.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    transaction.on_commit(_enqueue_warm)


def _enqueue_warm() -> None:
    # IGNORE_EXCEPTIONS: with Redis down add() returns False, and nothing is sent;
    # there is nothing to warm into then anyway.
    if cache.add(book_cache.warm_pending_key(), 1, book_cache.WARM_COALESCE_SECONDS):
        warm_hot_cache._send_or_log((), {}, countdown=1)
