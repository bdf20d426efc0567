"""Which requests ``bench`` makes: discovered from the URLconf plus declarations.

Every GET-able named route in a declared namespace gets a default scenario, so a new
endpoint is benchmarked without touching anything. A route named with a declared naive
prefix becomes the naive twin of the route without it (same scenario name, variant
"naive"). Declared variants add query parameters, declared names replace awkward
ones, and route arguments get real values from the declared picks (or the first row).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.apps import apps
from django.db.models import Model
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

from bench.client import fetch
from bench.registry import Declarations

DEEP_PAGES = 50  # pages of 100 followed to build the deep cursor (5,000 rows in)
DEEP_CURSOR = "deep_cursor"  # the built-in placeholder


@dataclass(frozen=True)
class Scenario:
    name: str  # "api.books.list.page100"; shared by a tuned route and its naive twin
    variant: str  # "tuned" or "naive"
    route: str  # "api:naive-book-list"
    path: str  # "/api/naive/books/?page_size=100"
    view: str  # dotted path of the view class or function
    group: str = ""  # the tuned route ("api:book-list"): a route and its naive twin
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


def routes(namespaces: Iterable[str], urlconf: str | None = None) -> list[Route]:
    """Named GET routes under the benchmarked namespaces, one per name."""
    wanted = set(namespaces)
    found: dict[str, Route] = {}
    for name, pattern in _walk(get_resolver(urlconf).url_patterns):
        if name.split(":", 1)[0] not in wanted or name in found:
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


def model_named(name: str, near: object = None) -> type[Model] | None:
    """The installed model whose model_name is ``name``; on a tie, the one in the
    same top-level package as ``near`` (a view), else the first."""
    found = [m for m in apps.get_models() if m._meta.model_name == name]
    home = getattr(near, "__module__", "").split(".")[0]
    same = [m for m in found if m.__module__.split(".")[0] == home]
    candidates = same or found
    return candidates[0] if candidates else None


def route_model(route: Route, base: str) -> type[Model] | None:
    """The model a route's ``pk`` refers to: the view's queryset or model, else the
    model named by the route (``book-list``: book), ``base`` being its tuned name."""
    cls = view_class(route.callback)
    for attr in ("queryset", "model"):
        value = getattr(cls, attr, None) if cls else None
        model = getattr(value, "model", value)
        if isinstance(model, type) and issubclass(model, Model):
            return model
    return model_named(base.split("-", 1)[0], cls or route.callback)


def scenario_name(route: Route, base: str, declared: Declarations) -> str:
    """``api:book-list`` -> ``api.books.list``, unless NAMES says otherwise."""
    group = route.name.removesuffix(route.local_name) + base
    if group in declared.names:
        return declared.names[group]
    prefix = declared.namespaces[route.namespace]
    head, _, rest = base.partition("-")
    if rest and model_named(head) is not None:
        return f"{prefix}.{head}s.{rest.replace('-', '.')}"
    return f"{prefix}.{base.replace('-', '.')}"


class Dataset:
    """Real values for placeholders and route arguments, each looked up once.

    A declared pick wins; a model's argument without one takes the first row's value.
    """

    def __init__(self, picks: Mapping[str, Callable[[], object]]) -> None:
        self._picks = picks
        self._cache: dict[str, object] = {}

    def value(self, key: str) -> object | None:
        if key not in self._cache:
            pick = self._picks.get(key)
            self._cache[key] = pick() if pick is not None else None
        return self._cache[key]

    def _or_first(self, key: str, model: type[Model], column: str) -> object | None:
        value = self.value(key)
        if value is None:
            rows = model._default_manager.order_by("pk")
            value = rows.values_list(column, flat=True).first()
        return value

    def argument(self, arg: str, model: type[Model] | None) -> object | None:
        """``pk`` of a view over Book: PICKS["book"]; ``slug``: PICKS["book_slug"];
        ``book_pk`` anywhere: PICKS["book"]; else the first row's value."""
        if model is not None:
            name = model._meta.model_name
            assert name is not None  # set on every installed model's _meta
            if arg in ("pk", "id"):
                return self._or_first(name, model, "pk")
            if any(f.name == arg for f in model._meta.concrete_fields):
                return self._or_first(f"{name}_{arg}", model, arg)
        key = arg.removesuffix("_pk").removesuffix("_id")
        related = model_named(key)
        if related is not None:
            return self._or_first(key, related, "pk")
        return self.value(key)


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


class DeepCursors:
    """The deep cursor of a list route, built once, on first use."""

    def __init__(self, client: Client, urlconf: str | None) -> None:
        self.client, self.urlconf = client, urlconf
        self._built: dict[str, str | None] = {}

    def __call__(self, route: str, kwargs: dict) -> str | None:
        if route not in self._built:
            path = reverse(route, kwargs=kwargs or None, urlconf=self.urlconf)
            self._built[route] = _deep_cursor(self.client, path)
        return self._built[route]


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


def _route_scenarios(
    route: Route,
    declared: Declarations,
    dataset: Dataset,
    deep: DeepCursors,
    notes: list[str],
) -> list[Scenario]:
    """The default scenario of one route, then its declared variants."""
    base, naive = declared.untuned(route.local_name)
    group = route.name.removesuffix(route.local_name) + base
    model = route_model(route, base)
    kwargs = {arg: dataset.argument(arg, model) for arg in route.kwargs}
    if any(v is None for v in kwargs.values()):
        notes.append(f"{route.name}: no value for {list(route.kwargs)}; skipped")
        return []
    try:
        path = reverse(route.name, kwargs=kwargs or None, urlconf=deep.urlconf)
    except NoReverseMatch:
        notes.append(f"{route.name}: cannot reverse with {kwargs}; skipped")
        return []
    name = scenario_name(route, base, declared)
    common: dict[str, Any] = {
        "variant": "naive" if naive else "tuned",
        "route": route.name,
        "view": view_label(route.callback),
        "group": group,
        "model": model,
        "view_class": view_class(route.callback),
    }
    found = [Scenario(name=name, path=path, **common)]

    def lookup(key: str) -> object | None:
        # Built from the tuned route, so both twins read the same page.
        return deep(group, kwargs) if key == DEEP_CURSOR else dataset.value(key)

    for suffix, params in declared.variants.get(group, {}).items():
        filled = _fill(params, lookup)
        if filled is None:
            notes.append(f"{route.name}: no data for variant {suffix}")
            continue
        query = urlencode(filled)
        found.append(
            Scenario(name=f"{name}.{suffix}", path=f"{path}?{query}", **common)
        )
    return found


def discover(
    client: Client,
    declared: Declarations,
    dataset: Dataset,
    urlconf: str | None = None,
) -> tuple[list[Scenario], list[str]]:
    """Every scenario for the current URLconf, and notes on routes that were skipped."""
    scenarios: list[Scenario] = []
    notes: list[str] = []
    deep = DeepCursors(client, urlconf)
    for route in routes(declared.namespaces, urlconf):
        scenarios.extend(_route_scenarios(route, declared, dataset, deep, notes))
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
