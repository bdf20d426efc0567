"""core.storage: WhiteNoise's hashed, gzip + Brotli files, made fast."""

import logging
from pathlib import Path

import brotli
import pytest
from django.core.management import call_command

from core.storage import OWN_QUALITY, VENDOR_QUALITY, TieredCompressor

CSS = b"body { color: #1d2433; }\n" * 200
BUNDLE = b"function f(a) { return a + 1; }\n" * 2000


@pytest.fixture
def tree(tmp_path) -> Path:
    """A collected tree: the site's own css/, a vendor app's bundle twice (the
    original and its hashed copy, same bytes), and a source map."""
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_bytes(CSS)
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "bundle.js").write_bytes(BUNDLE)
    (vendor / "bundle.0123456789ab.js").write_bytes(BUNDLE)
    (vendor / "bundle.js.map").write_bytes(b'{"mappings": "AAAA"}' * 500)
    return tmp_path


def _compressor(root: Path) -> TieredCompressor:
    return TieredCompressor(root=str(root), own=frozenset({"css"}), quiet=True)


def test_own_files_get_the_best_brotli_and_vendor_files_a_fast_one(tree):
    compressor = _compressor(tree)

    compressor.compress(str(tree / "css" / "site.css"))
    compressor.compress(str(tree / "vendor" / "bundle.js"))

    own = (tree / "css" / "site.css.br").read_bytes()
    assert own == brotli.compress(CSS, quality=OWN_QUALITY)
    vendor = (tree / "vendor" / "bundle.js.br").read_bytes()
    assert vendor == brotli.compress(BUNDLE, quality=VENDOR_QUALITY)
    assert brotli.decompress(vendor) == BUNDLE
    assert (tree / "css" / "site.css.gz").exists()
    assert (tree / "vendor" / "bundle.js.gz").exists()


def test_identical_content_is_compressed_once(tree):
    compressor = _compressor(tree)

    for name in ("bundle.js", "bundle.0123456789ab.js"):
        compressor.compress(str(tree / "vendor" / name))

    assert compressor.counts == {"own": 0, "vendor": 1, "reused": 1}
    hashed = tree / "vendor" / "bundle.0123456789ab.js.br"
    assert hashed.read_bytes() == (tree / "vendor" / "bundle.js.br").read_bytes()


def test_source_maps_are_left_uncompressed(tree):
    compressor = _compressor(tree)

    assert not compressor.should_compress("vendor/bundle.js.map")
    assert compressor.should_compress("vendor/bundle.js")


def test_collectstatic_keeps_hashed_names_and_both_encodings(
    settings, tmp_path, caplog
):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "core.storage.StaticStorage"},
    }
    settings.STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder"
    ]

    with caplog.at_level(logging.INFO, logger="core.storage"):
        call_command("collectstatic", interactive=False, verbosity=0)

    [hashed] = Path(tmp_path, "css").glob("site.*.css")
    assert Path(f"{hashed}.gz").exists() and Path(f"{hashed}.br").exists()
    assert Path(tmp_path, "staticfiles.json").exists()
    [message] = [r.getMessage() for r in caplog.records if r.name == "core.storage"]
    assert message.startswith("compressed ") and "skipped source maps" in message
