"""Which requests ``bench`` makes: discovered from the URLconf plus a small table.

Every GET-able named route in the ``api`` and ``books`` namespaces gets a default
scenario, so a new endpoint is benchmarked without touching this file. ``naive-X``
routes become the naive twin of ``X`` (same scenario name, variant "naive"). The
declared table below only adds parameter variants (page sizes, a filter, a search, a
deep cursor) and friendlier names. Route arguments get real ids picked from the data:
the most-reviewed book, the author with most books, the most used genre.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

from django.db.models import Count, Model
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from bench.client import fetch
from books.models import Author, Book, Genre, Publisher, Review

NAMESPACES = {"api": "api", "books": "page"}  # URL namespace -> scenario prefix
NAIVE_PREFIX = "naive-"

# Friendlier names for routes whose default name would read badly.
NAMES = {
    "api:api-root": "api.root",
    "books:book-list": "page.home",
    "books:book-detail": "page.book",
    "books:author-detail": "page.author",
}


@dataclass(frozen=True)
class Variant:
    """Extra query parameters for a route; ``{book}``-style values come from data."""

    suffix: str
    params: dict[str, str]


# Parameter variants on top of each route's default scenario. A naive twin gets the
# same variants as its tuned route, so the pair is always compared like for like.
VARIANTS: dict[str, tuple[Variant, ...]] = {
    "api:book-list": (
        Variant("page100", {"page_size": "100"}),
        Variant("filtered", {"genre": "{genre}", "published_after": "2000-01-01"}),
        Variant("author", {"author": "{author}"}),
        Variant("search", {"search": "{search}"}),
        Variant("deep", {"cursor": "{deep_cursor}"}),
    ),
    "api:author-list": (Variant("page100", {"page_size": "100"}),),
    "books:book-list": (Variant("genre", {"genre": "{genre}"}),),
}
DEEP_PAGES = 50  # pages of 100 followed to build the deep cursor (5,000 rows in)


@dataclass(frozen=True)
class Scenario:
    name: str  # "api.books.list.page100"; shared by a tuned route and its naive twin
    variant: str  # "tuned" or "naive"
    route: str  # "api:book-list"
    path: str  # "/api/books/?page_size=100"
    view: str  # dotted path of the view class or function
    # The model the view lists or shows, and the view class: where N+1 hints point.
    model: type[Model] | None = field(default=None, compare=False, repr=False)
    view_class: type | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.variant)


@dataclass(frozen=True)
class Route:
    name: str  # "api:naive-book-list"
    kwargs: tuple[str, ...]
    callback: object

    @property
    def namespace(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def local_name(self) -> str:
        return self.name.rsplit(":", 1)[1]


def _walk(
    patterns: Iterable, namespace: str | None = None
) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = (
                    f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                )
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name and namespace:
            yield f"{namespace}:{entry.name}", entry


def _kwargs(pattern: URLPattern) -> tuple[str, ...]:
    converters = getattr(pattern.pattern, "converters", None)
    if converters:
        return tuple(converters)
    return tuple(pattern.pattern.regex.groupindex)


def _gettable(callback) -> bool:
    actions = getattr(callback, "actions", None)
    if actions is not None:  # a DRF viewset route
        return "get" in actions
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view is not None:
        allowed = getattr(view, "http_method_names", ["get"])
        return "get" in allowed and hasattr(view, "get")
    return True  # a function view: try it


def routes(urlconf: str | None = None) -> list[Route]:
    """Named GET routes under the benchmarked namespaces, one per name."""
    found: dict[str, Route] = {}
    for name, pattern in _walk(get_resolver(urlconf).url_patterns):
        if name.split(":", 1)[0] not in NAMESPACES or name in found:
            continue
        kwargs = _kwargs(pattern)
        if "format" in kwargs or not _gettable(pattern.callback):
            continue  # DRF's format-suffix duplicates; write-only routes
        found[name] = Route(name, kwargs, pattern.callback)
    return list(found.values())


def view_class(callback) -> type | None:
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def view_label(callback) -> str:
    target = view_class(callback) or callback
    return f"{target.__module__}.{target.__qualname__}"


_MODELS: dict[str, type[Model]] = {
    m._meta.model_name: m for m in (Book, Author, Genre, Publisher, Review)
}


def route_model(route: Route) -> type[Model] | None:
    """The model a route's ``pk`` refers to: the view's queryset, else its name."""
    cls = view_class(route.callback)
    for attr in ("queryset", "model"):
        value = getattr(cls, attr, None) if cls else None
        model = getattr(value, "model", value)
        if isinstance(model, type) and issubclass(model, Model):
            return model
    base = route.local_name.removeprefix(NAIVE_PREFIX)
    return _MODELS.get(base.split("-", 1)[0])


def scenario_name(route: Route) -> str:
    base = route.local_name.removeprefix(NAIVE_PREFIX)
    declared = NAMES.get(f"{route.namespace}:{base}")
    if declared:
        return declared
    prefix = NAMESPACES[route.namespace]
    head, _, rest = base.partition("-")
    if head in _MODELS and rest:
        return f"{prefix}.{head}s.{rest.replace('-', '.')}"
    return f"{prefix}.{base.replace('-', '.')}"


class Dataset:
    """Real ids and terms for route arguments, picked once from the data."""

    def __init__(self) -> None:
        self._cache: dict[str, object] = {}

    def _top(self, model: type[Model], group: str) -> object | None:
        row = (
            model.objects.filter(**{f"{group}__isnull": False})
            .order_by()
            .values(group)
            .annotate(n=Count("pk"))
            .order_by("-n", group)
            .first()
        )
        return row[group] if row else None

    def value(self, key: str) -> object | None:
        if key not in self._cache:
            self._cache[key] = self._pick(key)
        return self._cache[key]

    def _pick(self, key: str) -> object | None:
        if key == "book":  # the most-reviewed book: the heaviest detail page
            return (
                self._top(Review, "book")
                or Book.objects.values_list("pk", flat=True).first()
            )
        if key == "author":  # the author with most books
            return self._top(Book, "author")
        if key == "publisher":
            return self._top(Book, "publisher")
        if key == "genre_id":
            return self._top(Book.genres.through, "genre")
        if key == "genre":
            genre_id = self.value("genre_id")
            return (
                Genre.objects.filter(pk=genre_id).values_list("slug", flat=True).first()
            )
        if key == "review":
            return Review.objects.order_by("-pk").values_list("pk", flat=True).first()
        if key == "search":  # a word of the top book's title: a realistic hit rate
            title = (
                Book.objects.filter(pk=self.value("book"))
                .values_list("title", flat=True)
                .first()
            )
            words = [w.strip(".,:;'\"") for w in (title or "").split() if len(w) > 3]
            return words[-1] if words else None
        model = _MODELS.get(key)
        if model is not None:
            return model.objects.order_by("pk").values_list("pk", flat=True).first()
        return None

    def model_id(self, model: type[Model]) -> object | None:
        if model is Genre:
            return self.value("genre_id")
        return self.value(model._meta.model_name)


def _deep_cursor(client: Client, path: str) -> str | None:
    """Follow ``next`` links DEEP_PAGES times at page_size 100; the last cursor."""
    url, cursor = f"{path}?page_size=100", None
    for _ in range(DEEP_PAGES):
        response, body, _ = fetch(client, url)
        if response.status_code != 200 or "json" not in response.get(
            "Content-Type", ""
        ):
            return cursor
        following = json.loads(body).get("next")
        if not following:
            return cursor
        parts = urlsplit(following)
        cursor = parse_qs(parts.query).get("cursor", [cursor])[0]
        url = f"{parts.path}?{parts.query}"
    return cursor


def _fill(
    params: dict[str, str], lookup: Callable[[str], object | None]
) -> dict[str, str] | None:
    """Replace ``{key}`` values with ``lookup(key)``; None when data is missing."""
    filled = {}
    for key, template in params.items():
        if template.startswith("{") and template.endswith("}"):
            value = lookup(template[1:-1])
            if value is None:
                return None  # no data for this variant (e.g. an empty genre table)
            filled[key] = str(value)
        else:
            filled[key] = template
    return filled


def discover(
    client: Client, dataset: Dataset, urlconf: str | None = None
) -> tuple[list[Scenario], list[str]]:
    """Every scenario for the current URLconf, and notes on routes that were skipped."""
    scenarios: list[Scenario] = []
    notes: list[str] = []
    deep: dict[str, str | None] = {}
    for route in routes(urlconf):
        kwargs = {}
        model = route_model(route)
        for arg in route.kwargs:
            key = arg.removesuffix("_pk").removesuffix("_id")
            if key in ("pk", "id") and model is not None:
                value = dataset.model_id(model)
            elif key == "slug" and model is Genre:
                value = dataset.value("genre")
            else:
                value = dataset.value(key)
            kwargs[arg] = value
        if any(v is None for v in kwargs.values()):
            notes.append(f"{route.name}: no value for {list(route.kwargs)}; skipped")
            continue
        try:
            path = reverse(route.name, kwargs=kwargs or None, urlconf=urlconf)
        except NoReverseMatch:
            notes.append(f"{route.name}: cannot reverse with {kwargs}; skipped")
            continue
        name = scenario_name(route)
        naive = route.local_name.startswith(NAIVE_PREFIX)
        variant = "naive" if naive else "tuned"
        label = view_label(route.callback)
        extras = {"model": model, "view_class": view_class(route.callback)}
        scenarios.append(Scenario(name, variant, route.name, path, label, **extras))
        tuned_route = f"{route.namespace}:{route.local_name.removeprefix(NAIVE_PREFIX)}"

        def lookup(key: str, tuned_route: str = tuned_route) -> object | None:
            if key != "deep_cursor":
                return dataset.value(key)
            # Built once from the tuned route, so both twins read the same page.
            if tuned_route not in deep:
                base = reverse(tuned_route, urlconf=urlconf)
                deep[tuned_route] = _deep_cursor(client, base)
            return deep[tuned_route]

        for extra in VARIANTS.get(tuned_route, ()):
            params = _fill(extra.params, lookup)
            if params is None:
                notes.append(f"{route.name}: no data for variant {extra.suffix}")
                continue
            scenarios.append(
                Scenario(
                    f"{name}.{extra.suffix}",
                    variant,
                    route.name,
                    f"{path}?{urlencode(params)}",
                    label,
                    **extras,
                )
            )
    scenarios.sort(key=lambda s: (s.name, s.variant != "tuned"))
    return scenarios, notes


def select(scenarios: list[Scenario], patterns: list[str] | None) -> list[Scenario]:
    """Keep scenarios whose name (or route name) matches any fnmatch pattern."""
    if not patterns:
        return scenarios
    return [
        s
        for s in scenarios
        if any(
            fnmatch.fnmatchcase(s.name, p) or fnmatch.fnmatchcase(s.route, p)
            for p in patterns
        )
    ]
