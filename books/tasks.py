"""Background work, sent only after the transaction that made it necessary commits.

Every task is idempotent (it recomputes from the database and overwrites), so
``acks_late`` redelivery after a worker crash is safe, and retries back off with
jitter on transient database errors. Sending goes through ``BookshelfTask``'s
``delay_on_commit``: a broker outage at enqueue time is logged, never raised, so the
committed write stands and the request still succeeds.

- ``refresh_catalogue_stats`` (beat, every ``CATALOGUE_STATS_EVERY`` seconds): the
  catalogue-wide figures behind ``GET /api/stats/`` and the home page's summary line.
- ``warm_hot_cache`` (after a published write): re-render the hottest pages.
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

from books.cache import keys, warming
from books.models import Book, Review
from core.logs import request_id_var

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
            # Reported, not silently lost. Nothing depends on it for correctness: a
            # missed warm means one more cache miss, a missed stats refresh the next
            # scheduled one.
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

    Counting 100,000 books and 500,000 reviews per page view would cost more than the
    page; the figures are computed here on a schedule and shown with their time.
    Idempotent: it overwrites the cached value.
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
    # Three beat intervals: a missed run or two still leaves a value to show.
    cache.set(keys.catalogue_stats_key(), stats, 3 * settings.CATALOGUE_STATS_EVERY)
    logger.info("catalogue stats refreshed", extra={"books": stats["books"]})
    return stats


def cached_catalogue_stats() -> dict[str, Any] | None:
    """The figures if the task has computed them; never computes (a page view)."""
    return cache.get(keys.catalogue_stats_key())


def catalogue_stats() -> dict[str, Any]:
    """The cached catalogue figures, computed in-process on a miss (first use, or
    the cache was emptied)."""
    return cache.get(keys.catalogue_stats_key()) or refresh_catalogue_stats()


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


@shared_task(base=BookshelfTask, acks_late=True, **RETRY)
def warm_hot_cache() -> dict[str, str]:
    """Refill the hottest cached pages and endpoints after a write invalidated them.

    Idempotent: it renders exactly what the next anonymous visitor would have cached
    (``books.cache.warming.warm_hot_keys``). Returns ``{path: "HIT" | "MISS" |
    status}`` and logs which paths failed, if any.
    """
    cache.delete(keys.warm_pending_key())  # later writes schedule a fresh warm
    results = warming.warm_hot_keys()
    failed = {path: status for path, status in results.items() if status.isdigit()}
    if failed:
        logger.warning("hot cache warm failed", extra={"paths": results})
    else:
        logger.info("hot cache warmed", extra={"paths": results})
    return results


def schedule_cache_warm(**_: Any) -> None:
    """Warm the hot keys once the current transaction commits.

    Connected to ``books.cache.freshness.catalogue_published``: a burst of writes
    shares one warm: the first queues it, the rest find it pending.

    Skipped when tasks run eagerly (no broker): warming inline would double the
    latency of the write, and the next reader fills the cache anyway.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CACHE_WARM_AFTER_WRITES:
        return
    transaction.on_commit(_enqueue_warm)


def _enqueue_warm() -> None:
    # IGNORE_EXCEPTIONS: with Redis down add() returns False, and nothing is sent;
    # there is nothing to warm into then anyway.
    if cache.add(keys.warm_pending_key(), 1, keys.WARM_COALESCE_SECONDS):
        warm_hot_cache._send_or_log((), {}, countdown=1)
