"""Static files storage: WhiteNoise's hashed, compressed files, made in seconds.

``CompressedManifestStaticFilesStorage`` Brotli-compresses every file at the highest
quality, twice (the original name and the hashed copy), source maps included. For
this project's static tree (the API docs' vendor bundles: about 14 MB) that took
40 s of every ``collectstatic``. ``StaticStorage`` keeps what visitors get:
hashed names, a ``.gz`` and a ``.br`` beside every compressible file, and the
highest Brotli quality for the site's own CSS and JS. It changes how they are made:

- **Each distinct content is compressed once.** The original and its hashed copy
  usually have the same bytes; the second one reuses the first one's output.
- **Source maps are not compressed.** Only a developer's devtools fetch them.
- **Vendor files get Brotli quality 5** (files from installed apps' ``static/``,
  not ``STATICFILES_DIRS``): about 50 times faster than quality 11 and a few per
  cent larger, still smaller than gzip -9.

It says what it did at INFO (logger ``core.storage``), since collectstatic passes
its verbosity to no storage.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, cast

import brotli
from django.conf import settings
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)

OWN_QUALITY = 11  # Brotli's best: the site's own files are small
VENDOR_QUALITY = 5
NOT_COMPRESSED = ("map",)  # fetched by devtools only


def own_top_levels() -> frozenset[str]:
    """First path components of the files in ``STATICFILES_DIRS`` ("css", ...)."""
    found: set[str] = set()
    # Typed from config/settings.py (a list of paths), but Django also takes
    # (prefix, path) pairs, which this handles.
    entries = cast(
        Sequence[str | PathLike[str] | tuple[str, str | PathLike[str]]],
        settings.STATICFILES_DIRS,
    )
    for entry in entries:
        root = Path(entry[1] if isinstance(entry, tuple | list) else entry)
        prefix = entry[0] if isinstance(entry, tuple | list) else ""
        if root.is_dir():
            names = {child.name for child in root.iterdir()}
            found |= {prefix.split("/")[0]} if prefix else names
    return frozenset(found)


class _Output:
    """One content's compressed forms, made by the first thread to need them."""

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.encoded: list[tuple[str, bytes]] = []  # (suffix, data)


class TieredCompressor(Compressor):
    """WhiteNoise's compressor, with the three rules of ``StaticStorage``."""

    SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, *NOT_COMPRESSED)

    def __init__(self, *, root: str, own: frozenset[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.own = own
        self.lock = threading.Lock()
        self.outputs: dict[bytes, _Output] = {}
        self.counts = {"own": 0, "vendor": 0, "reused": 0}

    def is_own(self, path: str) -> bool:
        name = os.path.relpath(path, self.root)
        return name.split(os.sep, 1)[0] in self.own

    def _encode(self, data: bytes, own: bool) -> list[tuple[str, bytes]]:
        """The .br and .gz forms worth keeping (WhiteNoise's 95% rule)."""
        encoded = []
        quality = OWN_QUALITY if own else VENDOR_QUALITY
        if self.use_brotli:
            compressed = brotli.compress(data, quality=quality)
            if not self._effective(data, compressed):
                return []  # if Brotli is not worth it, gzip is not either
            encoded.append((".br", compressed))
        if self.use_gzip:
            compressed = self.compress_gzip(data)
            if self._effective(data, compressed):
                encoded.append((".gz", compressed))
        return encoded

    @staticmethod
    def _effective(data: bytes, compressed: bytes) -> bool:
        return bool(data) and len(compressed) / len(data) <= 0.95

    def compress(self, path: str) -> list[str]:
        with open(path, "rb") as f:
            stat_result = os.fstat(f.fileno())
            data = f.read()
        own = self.is_own(path)
        digest = hashlib.blake2b(data, digest_size=16).digest() + bytes([own])
        with self.lock:
            output = self.outputs.get(digest)
            mine = output is None
            if mine:
                output = self.outputs[digest] = _Output()
            self.counts["own" if own else "vendor"] += mine
            self.counts["reused"] += not mine
        assert output is not None
        if mine:
            try:
                output.encoded = self._encode(data, own)
            finally:
                output.ready.set()
        else:
            output.ready.wait()
        return [
            self.write_data(path, compressed, suffix, stat_result)
            for suffix, compressed in output.encoded
        ]


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed names plus .gz and .br, fast (see the module docstring)."""

    def create_compressor(self, **kwargs: Any) -> Compressor:
        self._compressor = TieredCompressor(
            root=str(self.location), own=own_top_levels(), **kwargs
        )
        return self._compressor

    def compress_files(self, paths):
        started = time.perf_counter()
        yield from super().compress_files(paths)
        counts = self._compressor.counts
        logger.info(
            "compressed %d of the site's files (Brotli %d + gzip) and %d vendor files "
            "(Brotli %d + gzip), reused %d identical outputs, skipped source maps, "
            "in %.1fs",
            counts["own"],
            OWN_QUALITY,
            counts["vendor"],
            VENDOR_QUALITY,
            counts["reused"],
            time.perf_counter() - started,
        )
