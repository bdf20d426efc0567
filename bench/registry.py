"""The project's declarations, collected from each installed app's ``bench.py``.

The admin finds ``admin.py`` in every app; bench finds ``bench.py`` the same way and
reads its module-level names (the protocol is in this package's docstring). They are
read afresh for every run, from the apps installed at that moment (narrowed by the
``BENCH_APPS`` setting when it is set), so a test can swap them with its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from types import ModuleType
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import module_has_submodule

MODULE = "bench"  # the submodule looked for in every app, like "admin"
MERGED = (
    "NAMESPACES",
    "NAMES",
    "VARIANTS",
    "PICKS",
    "DATASET",
    "PERF",
    "OPERATIONS",
)
COLLECTED = ("NAIVE_PREFIX", "CLEAR_CACHE", "RESEED", "PERF_HEADERS", "LOAD_TEST_HINT")
KNOWN = frozenset(MERGED + COLLECTED)


@dataclass(frozen=True)
class Declarations:
    """Every app's declarations merged: what bench knows about this project."""

    namespaces: dict[str, str] = field(default_factory=dict)  # namespace -> prefix
    names: dict[str, str] = field(default_factory=dict)  # route -> scenario name
    variants: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    picks: dict[str, Callable[[], object]] = field(default_factory=dict)
    dataset: dict[str, Callable[[], int]] = field(default_factory=dict)
    naive_prefixes: tuple[str, ...] = ()
    clear_cache: tuple[Callable[[], None], ...] = ()
    reseed: tuple[Callable[[int], None], ...] = ()
    perf: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> target
    perf_headers: tuple[Callable[[], dict[str, str]], ...] = ()
    load_test_hints: tuple[str, ...] = ()  # how to start a server that never throttles
    # name -> prepare(): returns the callable to measure (bench.operations)
    operations: dict[str, Callable[[], Callable[[], object]]] = field(
        default_factory=dict
    )
    sources: tuple[str, ...] = ()  # the modules read, for messages

    def untuned(self, local_name: str) -> tuple[str, bool]:
        """(the tuned route's local name, whether ``local_name`` is its naive twin)."""
        for prefix in self.naive_prefixes:
            if prefix and local_name.startswith(prefix):
                return local_name.removeprefix(prefix), True
        return local_name, False


def _apps() -> Iterator[AppConfig]:
    """Installed apps, in INSTALLED_APPS order, narrowed by ``BENCH_APPS``."""
    wanted = getattr(settings, "BENCH_APPS", None)
    configs = list(apps.get_app_configs())
    if wanted is None:
        yield from configs
        return
    by_key = {key: c for c in configs for key in (c.label, c.name)}
    for key in wanted:
        if key not in by_key:
            raise ImproperlyConfigured(f"BENCH_APPS names {key!r}: not installed.")
        yield by_key[key]


def modules() -> list[ModuleType]:
    """Every ``<app>.bench`` module of the apps bench reads."""
    found = []
    for config in _apps():
        if module_has_submodule(config.module, MODULE):
            found.append(import_module(f"{config.name}.{MODULE}"))
    return found


def _merge(target: dict, extra: Mapping, what: str, module: ModuleType) -> None:
    for key, value in extra.items():
        if key in target and target[key] != value:
            raise ImproperlyConfigured(
                f"{module.__name__}.{what}[{key!r}] conflicts with an earlier "
                f"declaration ({target[key]!r})."
            )
        target[key] = value


def _check(module: ModuleType) -> dict[str, Any]:
    """The module's declarations; an unknown UPPER_CASE name is a typo, not data."""
    public = {n: getattr(module, n) for n in vars(module) if n.isupper()}
    unknown = sorted(set(public) - KNOWN)
    if unknown:
        raise ImproperlyConfigured(
            f"{module.__name__} declares {unknown}; bench reads {sorted(KNOWN)}."
        )
    functions: dict[str, Any] = {
        name: public[name]
        for name in ("CLEAR_CACHE", "RESEED", "PERF_HEADERS")
        if name in public
    }
    for table in ("PICKS", "DATASET", "OPERATIONS"):
        functions.update(
            {f"{table}[{k!r}]": v for k, v in public.get(table, {}).items()}
        )
    for name, value in functions.items():
        if not callable(value):
            raise ImproperlyConfigured(f"{module.__name__}.{name} is not callable.")
    return public


def declarations() -> Declarations:
    """Merge the declarations of every app bench reads (see ``_apps``)."""
    merged: dict[str, dict] = {name: {} for name in MERGED}
    collected: dict[str, list] = {name: [] for name in COLLECTED}
    sources = []
    for module in modules():
        public = _check(module)
        sources.append(module.__name__)
        for name in MERGED:
            _merge(merged[name], public.get(name, {}), name, module)
        for name in COLLECTED:
            if public.get(name) is not None:
                collected[name].append(public[name])
    return Declarations(
        namespaces=merged["NAMESPACES"],
        names=merged["NAMES"],
        variants=merged["VARIANTS"],
        picks=merged["PICKS"],
        dataset=merged["DATASET"],
        naive_prefixes=tuple(dict.fromkeys(collected["NAIVE_PREFIX"])),
        clear_cache=tuple(collected["CLEAR_CACHE"]),
        reseed=tuple(collected["RESEED"]),
        perf=merged["PERF"],
        perf_headers=tuple(collected["PERF_HEADERS"]),
        load_test_hints=tuple(dict.fromkeys(collected["LOAD_TEST_HINT"])),
        operations=merged["OPERATIONS"],
        sources=tuple(sources),
    )
