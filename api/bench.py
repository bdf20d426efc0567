"""What ``manage.py bench`` needs to know about the API: its namespace, how a naive
twin is named, and the parameter variants worth measuring.

Read by the bench app (protocol in ``bench/__init__.py``); plain data, no import of
bench. The ``{placeholders}`` are filled from the picks that books/bench.py declares;
``{deep_cursor}`` is bench's own (50 pages of 100 into the list).
"""

from typing import Any

from api import ladder

NAMESPACES = {"api": "api"}

# api:naive-book-list is the untuned twin of api:book-list (api/naive.py).
NAIVE_PREFIX = "naive-"

NAMES = {
    "api:api-root": "api.root",
    # The optimisation ladder (api/ladder.py): ladder.books.naive ... ladder.books.raw
    **{f"api:ladder-books-{rung}": f"ladder.books.{rung}" for rung in ladder.ALL_RUNGS},
    "api:ladder-ceiling": "ladder.ceiling",
}

VARIANTS = {
    "api:book-list": {
        "page100": {"page_size": "100"},
        "filtered": {"genre": "{genre_slug}", "published_after": "2000-01-01"},
        "author": {"author": "{author}"},
        "search": {"search": "{search}"},
        "deep": {"cursor": "{deep_cursor}"},
    },
    "api:author-list": {"page100": {"page_size": "100"}},
}

# `manage.py perf` (make perf): the ladder under wrk, the floors, and /api/books/ as
# clients meet it: a cache hit, a 304, and a token client (never served from cache).
PERF: dict[str, dict[str, Any]] = {
    "ceiling": {"path": "/api/ladder/ceiling/", "floor": True},
    **{rung: {"path": f"/api/ladder/{rung}/books/"} for rung in ladder.ALL_RUNGS},
    "tuned, token (uncached)": {"path": "/api/books/", "auth": True},
    "cached (hit)": {"path": "/api/books/"},
    "304": {"path": "/api/books/", "conditional": True},
}
PERF["raw"]["floor"] = True


def perf_headers() -> dict[str, str]:
    """A throwaway ``perf`` user's token: the uncached, authenticated path."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user, _ = get_user_model().objects.get_or_create(username="perf")
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


PERF_HEADERS = perf_headers

# bench --url stops at the first 429 and says how to start a server that never
# throttles (config/settings.py, "Load tests").
LOAD_TEST_HINT = (
    "start it with LOAD_TEST=true (e.g. `LOAD_TEST=true make serve`), which lifts "
    "every API throttle and is refused unless the server binds loopback only"
)
