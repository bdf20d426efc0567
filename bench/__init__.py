"""bench: audit every GET endpoint and page of a Django project (``manage.py bench``).

A reusable app: it imports no other app of the project. Add ``"bench"`` to
INSTALLED_APPS and it benchmarks the named GET routes of the URL namespaces your apps
declare. What it needs to know about a project comes from a ``bench.py`` module in any
installed app, found the way the admin finds ``admin.py``. That module is plain data
and plain functions and never imports bench, so an app that declares does not depend
on the tool. Every name is optional:

``NAMESPACES = {"api": "api"}``
    URL namespace -> scenario-name prefix. Only routes in declared namespaces are
    benchmarked; ``api:book-list`` becomes the scenario ``api.books.list``.
``NAIVE_PREFIX = "naive-"``
    A route-name prefix marking the untuned twin of a route: ``api:naive-book-list``
    is scenario ``api.books.list``, variant "naive", compared like for like.
``NAMES = {"api:api-root": "api.root"}``
    Friendlier scenario names for routes whose default name reads badly.
``VARIANTS = {"api:book-list": {"page100": {"page_size": "100"}}}``
    Extra query-parameter variants of a route (scenario ``api.books.list.page100``);
    the naive twin gets the same ones. A ``"{key}"`` value is filled from ``PICKS``;
    ``"{deep_cursor}"`` is built in: the cursor reached by following the ``next``
    links of the route's JSON list (50 pages of 100).
``PICKS = {"book": most_reviewed_book}``
    Zero-argument functions returning real values, called once per run: for
    ``{key}`` placeholders and for route arguments. For a view over model Book, a
    ``pk`` argument reads ``PICKS["book"]`` (the model_name), a ``slug`` argument
    ``PICKS["book_slug"]``; a ``book_pk`` argument reads ``PICKS["book"]`` anywhere.
    Without a pick, the first row's value is used.
``DATASET = {"books": count_books}``
    Zero-argument functions returning the counts the report and ``--json`` show as
    ``dataset`` (bench adds ``database``, the connection's vendor). When every count
    is 0, bench stops and asks for data.
``CLEAR_CACHE = clear``
    How to make the app's cache cold before a cold request without flushing anyone
    else's keys. Local-memory caches are emptied first, then every declared
    ``CLEAR_CACHE`` runs (it may put back state a cold cache still has, such as a
    published version). Without one, bench deletes the shared cache's keys under its
    KEY_PREFIX.
``RESEED = reseed``
    ``reseed(size)`` deletes the app's data and seeds ``size`` rows; ``--sizes``
    calls it at each size. Its docstring's first line is the warning bench prints.
``LOAD_TEST_HINT = "start it with LOAD_TEST=true"``
    How to start the server so that it throttles no one: ``bench --url`` stops at
    the first 429 and prints this.

``OPERATIONS = {"reprice.bulk_update": prepare_bulk_update}``
    Writes worth measuring. Each value is a zero-argument function that prepares
    the work (reads the rows, builds the input) and returns the zero-argument
    callable to measure, which may return the number of rows it changed. bench runs
    both in a transaction it rolls back, counts the callable's queries and times
    it; the results are their own table and the ``"operations"`` list of
    ``--json``. ``--scenario`` globs select operations by name too.

``PERF = {"raw": {"path": "/api/ladder/raw/books/", "floor": True}}``
    Targets for ``manage.py perf`` (wrk under a running server, interleaved rounds):
    ``path``, optional ``"auth": True`` (sends ``PERF_HEADERS``), ``"conditional":
    True`` (sends the ETag back: a 304 each time) and ``"floor": True`` (every row
    gets its ratio to this target's requests/s).
``PERF_HEADERS = make_headers``
    A zero-argument function returning the headers of an authenticated client (it
    may create a throwaway user and token).

Settings: ``BENCH_APPS`` (app labels or names; default every installed app) narrows
whose declarations are read; ``BENCH_BUDGETS`` names the project's budget file.
"""
