"""Celery application: reads every ``CELERY_*`` setting and autodiscovers tasks.

``DjangoTask`` as the task class gives every task ``delay_on_commit()``, so a task is
only sent once the transaction that made its work necessary has committed.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
