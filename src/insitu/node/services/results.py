"""Result files addressed by content hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from insitu.errors import NotFound


class ResultFiles:
    """Stores each result once under its SHA-256; the same bytes are never stored twice."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, content_hash: str) -> Path:
        if len(content_hash) != 64 or not all(c in "0123456789abcdef" for c in content_hash):
            raise NotFound("no such result")
        return self._dir / content_hash[:2] / content_hash

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        return digest

    def get(self, content_hash: str) -> bytes:
        path = self._path(content_hash)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound("result file is missing") from None
        if hashlib.sha256(data).hexdigest() != content_hash:
            raise NotFound("result file does not match its hash")
        return data
