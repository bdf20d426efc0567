"""bench.registry: declarations collected from each installed app's bench.py."""

from io import StringIO
from types import ModuleType

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from bench import registry


def _module(name: str, **declared: object) -> ModuleType:
    module = ModuleType(name)
    for key, value in declared.items():
        setattr(module, key, value)
    return module


def test_the_projects_apps_declare_pages_and_api():
    declared = registry.declarations()

    assert declared.namespaces == {"api": "api", "books": "page"}
    assert declared.naive_prefixes == ("naive-",)
    assert declared.untuned("naive-book-list") == ("book-list", True)
    assert declared.untuned("book-list") == ("book-list", False)
    assert {"book", "author", "genre", "genre_slug", "search"} <= set(declared.picks)
    assert set(declared.dataset) == {"books", "authors", "reviews"}
    assert len(declared.clear_cache) == len(declared.reseed) == 1
    assert declared.sources == ("books.bench", "api.bench")


def test_bench_apps_narrows_whose_declarations_are_read(settings):
    settings.BENCH_APPS = ["api"]

    declared = registry.declarations()

    assert declared.namespaces == {"api": "api"}
    assert declared.picks == {} and declared.reseed == ()


def test_bench_apps_must_name_installed_apps(settings):
    settings.BENCH_APPS = ["nowhere"]

    with pytest.raises(ImproperlyConfigured, match="nowhere"):
        registry.declarations()


def test_a_misspelt_declaration_is_an_error(monkeypatch):
    typo = _module("shop.bench", NAMESPACE={"shop": "shop"})
    monkeypatch.setattr(registry, "modules", lambda: [typo])

    with pytest.raises(ImproperlyConfigured, match="NAMESPACE"):
        registry.declarations()


def test_a_pick_must_be_callable(monkeypatch):
    bad = _module("shop.bench", PICKS={"item": 3})
    monkeypatch.setattr(registry, "modules", lambda: [bad])

    with pytest.raises(ImproperlyConfigured, match="not callable"):
        registry.declarations()


def test_two_apps_cannot_claim_one_namespace_differently(monkeypatch):
    first = _module("shop.bench", NAMESPACES={"shop": "shop"})
    second = _module("till.bench", NAMESPACES={"shop": "till"})
    monkeypatch.setattr(registry, "modules", lambda: [first, second])

    with pytest.raises(ImproperlyConfigured, match=r"till\.bench\.NAMESPACES"):
        registry.declarations()


@pytest.mark.django_db
def test_sizes_needs_a_declared_reseed(settings):
    settings.BENCH_APPS = ["api"]

    with pytest.raises(CommandError, match="RESEED"):
        call_command("bench", "--sizes", "5", stdout=StringIO())


def test_operations_are_merged_and_must_be_callable(monkeypatch):
    declared = registry.declarations()
    assert set(declared.operations) == {
        "reprice.save",
        "reprice.bulk_update",
        "reprice.one_statement",
    }

    broken = _module("broken.bench", OPERATIONS={"reprice.x": "not callable"})
    monkeypatch.setattr(registry, "modules", lambda: [broken])
    with pytest.raises(ImproperlyConfigured, match=r"OPERATIONS\['reprice.x'\]"):
        registry.declarations()
