"""Instruments for one request: a query recorder and a cache counter.

The recorder is an ``execute_wrapper`` on every configured database: it sees every
statement with its parameters and the alias that ran it (a project with read replicas
sees which served each scenario), times the database call alone and, only in the audit
pass, walks the Python stack to find the line of project code that issued it. The
timing pass never installs it.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections

_BENCH_DIR = f"{Path(__file__).resolve().parent}{os.sep}"
_LIBRARY_MARKERS = ("site-packages", "dist-packages", f"{Path('lib', 'python')}")


@dataclass
class Query:
    sql: str  # as Django sends it, with placeholders
    params: Any
    ms: float
    site: str | None  # "api/serializers.py:41 in get_author"
    template: str | None  # "books/book_list.html:12", when a template issued it
    alias: str = "default"  # the database alias that ran it


def _project_root() -> str:
    return str(Path(settings.BASE_DIR).resolve())


def _is_project(filename: str, root: str) -> bool:
    return (
        filename.startswith(root)
        and not filename.startswith(_BENCH_DIR)
        and not any(marker in filename for marker in _LIBRARY_MARKERS)
        and "/.venv/" not in filename
    )


_PASS_THROUGH = {"__call__", "process_request", "process_view", "process_response"}


def _serializer_field(node, root: str) -> str | None:
    """``NaiveBookSerializer.author (api/naive.py:54)`` for a DRF field frame."""
    parent = getattr(node, "parent", None)
    name = getattr(node, "field_name", None)
    if parent is None or name is None:
        return None
    cls: type = type(parent)
    return f"{cls.__qualname__}.{name}{_class_location(cls, root)}"


@functools.cache
def _class_location(cls: type, root: str) -> str:
    """`` (api/naive.py:54)`` for a class defined in project code, else ``""``."""
    try:
        source = inspect.getsourcefile(cls) or ""
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return ""
    if source.startswith(root):
        return f" ({Path(source).relative_to(root)}:{line})"
    return ""


def _above_wrappers(frame: FrameType) -> FrameType:
    """The frame that ran the query, above Django's chain of execute wrappers.

    A project may install execute wrappers of its own, called between Django's cursor
    and this one; their frames are project code but not where the query came from.
    """
    probe: FrameType | None = frame
    while probe is not None:
        if probe.f_code.co_name == "_execute_with_wrappers" and probe.f_back:
            return probe.f_back
        probe = probe.f_back
    return frame


def _call_site(root: str) -> tuple[str | None, str | None]:
    """The first frame in project code, and the template line being rendered if any.

    Frames in Django, DRF, this package and execute wrappers are skipped, and so are
    middleware ``__call__`` frames that only pass the request on. When a DRF
    serializer field reads the attribute before any project frame does, the field is
    the site (``NaiveBookSerializer.author``): that is where the lazy load hides.
    """
    frame: FrameType | None = _above_wrappers(sys._getframe(2))
    fallback = template = passing = None
    while frame is not None:
        filename = frame.f_code.co_filename
        name = frame.f_code.co_name
        if _is_project(filename, root):
            if name not in _PASS_THROUGH:
                rel = Path(filename).relative_to(root)
                return f"{rel}:{frame.f_lineno} in {name}", template
            if passing is None:
                rel = Path(filename).relative_to(root)
                passing = f"{rel}:{frame.f_lineno} in {name}"
        elif name == "get_attribute" and filename.endswith("rest_framework/fields.py"):
            field = _serializer_field(frame.f_locals.get("self"), root)
            if field:
                return field, template
        elif template is None and name == "render_annotated":
            node = frame.f_locals.get("self")
            origin = getattr(node, "origin", None)
            token = getattr(node, "token", None)
            if origin is not None and token is not None:
                template = f"{origin.template_name}:{token.lineno}"
        if fallback is None and "/django/db/" not in filename:
            module = filename.split("site-packages/")[-1]
            fallback = f"{module}:{frame.f_lineno} in {name}"
        frame = frame.f_back
    return passing or fallback, template


@contextmanager
def record_queries() -> Iterator[list[Query]]:
    """Record every statement on every connection, with its call site and alias."""
    queries: list[Query] = []
    root = _project_root()

    def wrapper(execute, sql, params, many, context):
        site, template = _call_site(root)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            ms = (time.perf_counter() - started) * 1000
            alias = context["connection"].alias
            queries.append(Query(sql, params, ms, site, template, alias))

    with ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(wrapper))
        yield queries


NOT_DATA = ("throttle_",)  # DRF's per-client request history


@dataclass
class CacheStats:
    """Reads of one request, entries apart from state.

    An entry is what a cold cache has lost (a response, a fragment). State is what a
    cold cache still holds: whatever the declared CLEAR_CACHE put back, such as a
    published catalogue version. Counting its reads as hits would show a cold
    request at a 50% hit ratio. ``learn`` (a cold request) marks as state every key
    found that this request did not write itself; ``state`` carries them to the
    warm request of the same scenario.
    """

    gets: int = 0  # entry reads
    hits: int = 0  # entry reads that found a value
    state_reads: int = 0
    state: set[str] = field(default_factory=set)
    learn: bool = False
    written: set[str] = field(default_factory=set)

    def read(self, key: object, hit: bool) -> None:
        key = str(key)
        if key.startswith(NOT_DATA):
            return
        if key in self.state or (self.learn and hit and key not in self.written):
            self.state.add(key)
            self.state_reads += 1
            return
        self.gets += 1
        self.hits += hit

    def wrote(self, *keys: object) -> None:
        self.written.update(str(key) for key in keys)


@contextmanager
def count_cache(stats: CacheStats) -> Iterator[CacheStats]:
    """Count reads and hits on every configured cache, by shadowing their methods.

    ``get_or_set`` is counted once (its inner ``get`` calls are not), and a hit is a
    value that is not the caller's default. Throttle counters are not cached data and
    are left out; state is counted apart (``CacheStats``).
    """
    with ExitStack() as stack:
        for alias in settings.CACHES:
            backend = caches[alias]
            stack.callback(_install(backend, stats))
        yield stats


_READS = ("get", "get_many", "get_or_set")
_WRITES = ("set", "add", "set_many")


def _install(backend, stats: CacheStats):
    cls = type(backend)
    nested: Counter[str] = Counter()
    missing = object()

    def get(key, default=None, version=None, **kwargs):
        value = cls.get(backend, key, missing, version=version, **kwargs)
        if not nested["depth"]:
            stats.read(key, value is not missing)
        return default if value is missing else value

    def get_many(keys, version=None, **kwargs):
        keys = list(keys)
        nested["depth"] += 1  # BaseCache.get_many calls get() once per key
        try:
            found = cls.get_many(backend, keys, version=version, **kwargs)
        finally:
            nested["depth"] -= 1
        if not nested["depth"]:
            for key in keys:
                stats.read(key, key in found)
        return found

    def get_or_set(key, default, timeout=missing, version=None, **kwargs):
        if timeout is not missing:
            kwargs["timeout"] = timeout
        probe = cls.get(backend, key, missing, version=version)
        stats.read(key, probe is not missing)
        if probe is not missing:
            return probe
        stats.wrote(key)
        nested["depth"] += 1
        try:
            return cls.get_or_set(backend, key, default, version=version, **kwargs)
        finally:
            nested["depth"] -= 1

    def writer(name: str):
        method = getattr(cls, name)

        def write(key_or_mapping, *args, **kwargs):
            keys = key_or_mapping if name == "set_many" else [key_or_mapping]
            stats.wrote(*keys)
            return method(backend, key_or_mapping, *args, **kwargs)

        return write

    backend.get, backend.get_many, backend.get_or_set = get, get_many, get_or_set
    for name in _WRITES:
        setattr(backend, name, writer(name))

    def uninstall() -> None:
        for name in _READS + _WRITES:
            backend.__dict__.pop(name, None)

    return uninstall


def clear_caches(clear_shared: Sequence[Callable[[], None]] = ()) -> None:
    """Make every cache cold for the next request.

    A local-memory cache lives in this process only, so it is emptied outright: a
    generation bump would leave orphans that fill MAX_ENTRIES and trigger culls in
    the middle of timed requests. A shared cache (django-redis) is never flushed:
    only keys under the cache's KEY_PREFIX are deleted. The apps' declared
    CLEAR_CACHE functions (``clear_shared``) then run whatever the backend, and take
    over the shared cache's clearing: an app knows which of its keys are entries and
    which are state a cold cache still has (a published catalogue version, say).
    """
    shared: list[Any] = []  # django-redis backends (untyped)
    for alias in settings.CACHES:
        backend = caches[alias]
        if hasattr(getattr(backend, "client", None), "get_client"):
            shared.append(backend)
        else:
            backend.clear()
    if clear_shared:
        for clear in clear_shared:
            clear()
        return
    for backend in shared:
        raw = backend.client.get_client(write=True)
        keys = list(raw.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
        if keys:
            raw.delete(*keys)
