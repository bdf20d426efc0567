"""What ``manage.py bench`` needs to know about the API: its namespace, how a naive
twin is named, and the parameter variants worth measuring.

Read by the bench app (protocol in ``bench/__init__.py``); plain data, no import of
bench. The ``{placeholders}`` are filled from the picks that books/bench.py declares;
``{deep_cursor}`` is bench's own (50 pages of 100 into the list).
"""

NAMESPACES = {"api": "api"}

# api:naive-book-list is the untuned twin of api:book-list (api/naive.py).
NAIVE_PREFIX = "naive-"

NAMES = {"api:api-root": "api.root"}

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

# bench --url stops at the first 429 and says how to start a server that never
# throttles (config/settings.py, "Load tests").
LOAD_TEST_HINT = (
    "start it with LOAD_TEST=true (e.g. `LOAD_TEST=true make serve`), which lifts "
    "every API throttle and is refused unless the server binds loopback only"
)
