"""ASGI entry point: ``gunicorn -c config/gunicorn.py -k uvicorn_worker.UvicornWorker
config.asgi`` (or ``GUNICORN_WORKER_CLASS=uvicorn_worker.UvicornWorker``).

The same project as ``config.wsgi``: the same middleware, views and JSON. The stack
is synchronous (this project's middleware, WhiteNoise, DRF), so Django runs it in one
worker thread per request (``sync_to_async``, thread-sensitive) and the event loop
carries the connections; ``async def`` views (``/api/ladder/async/books/``) run on
the loop, and the streaming export hands ASGI an asynchronous iterator. What that
buys, and what it does not, is measured in the README (``make perf-asgi``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
