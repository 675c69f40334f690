"""Built files read once, with their ETag and a gzip copy, served from memory."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
_COMPRESSIBLE = {".js", ".css", ".html", ".ts", ".json", ".svg"}
_STATIC_REF = re.compile(rb'(?P<attr>(?:src|href)=")/static/(?P<path>[^"?]+)"')


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


class Assets:
    """The files under ``root``, loaded on first use and kept (they never change while serving).

    HTML pages get their ``/static/X`` references rewritten to ``/static/v<version>/X``,
    so a new release is fetched at once while a release's files may be cached for good.
    A path prefix rather than a query string: the modules' relative imports of each other
    (``./esm.js``) then resolve under the same prefix, to the very URLs the page preloads.
    """

    def __init__(self, root: Path, version: str) -> None:
        self._root = root.resolve()
        self._version = version
        self._cache: dict[str, Asset | None] = {}

    @property
    def version(self) -> str:
        return self._version

    def get(self, relative: str) -> Asset | None:
        """The file at ``relative`` (a ``/``-separated path under the root), or None."""
        if relative in self._cache:
            return self._cache[relative]
        asset = self._load(relative)
        if len(self._cache) < 1000:
            self._cache[relative] = asset
        return asset

    def _load(self, relative: str) -> Asset | None:
        parts = relative.split("/")
        if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            return None
        path = (self._root / relative).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            return None
        body = path.read_bytes()
        suffix = path.suffix.lower()
        if suffix == ".html":
            prefix = b"/static/v" + self._version.encode() + b"/"
            body = _STATIC_REF.sub(lambda m: m["attr"] + prefix + m["path"] + b'"', body)
        media_type = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
        gzipped = None
        if suffix in _COMPRESSIBLE and len(body) > 512:
            gzipped = gzip.compress(body, compresslevel=9, mtime=0)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return Asset(body, gzipped, etag, media_type or "application/octet-stream")
