"""Streams uploaded files to the node's upload area with a size limit."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from insitu.errors import InvalidInput, NotFound, PayloadTooLarge

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


class Uploads:
    """Temporary files an owner uploads before registering them as a dataset."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self._dir = directory
        self._max = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    def open(self, *, declared_size: int | None = None) -> UploadWriter:
        """Start a new upload; refuse at once when the declared size is over the limit."""
        if declared_size is not None and declared_size > self._max:
            raise PayloadTooLarge(
                f"upload of {declared_size} bytes exceeds the limit of {self._max}"
            )
        return UploadWriter(self._dir, self._max)

    def save(self, chunks: Iterable[bytes], *, declared_size: int | None = None) -> tuple[str, int]:
        """Write ``chunks`` to a new upload; refuse anything over the limit, keeping nothing."""
        writer = self.open(declared_size=declared_size)
        try:
            for chunk in chunks:
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def path(self, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not UPLOAD_ID.match(upload_id):
            raise InvalidInput("malformed upload id")
        p = self._dir / upload_id
        if not p.is_file():
            raise NotFound(f"no upload {upload_id}")
        return p

    def discard(self, upload_id: str) -> None:
        with contextlib.suppress(NotFound, FileNotFoundError):
            os.unlink(self.path(upload_id))


class UploadWriter:
    """One upload being written; ``abort`` leaves nothing behind."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.upload_id = secrets.token_hex(16)
        self._path = directory / self.upload_id
        self._max = max_bytes
        self._fh = open(self._path, "wb")  # noqa: SIM115 - closed in finish/abort
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._max:
            self.abort()
            raise PayloadTooLarge(f"upload exceeds the limit of {self._max} bytes")
        self._fh.write(chunk)

    def finish(self) -> tuple[str, int]:
        self._fh.close()
        return self.upload_id, self.size

    def abort(self) -> None:
        self._fh.close()
        self._path.unlink(missing_ok=True)
