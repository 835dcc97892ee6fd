"""Large inbound protocol messages as files in the node's data directory, not database blobs.

A message over :data:`INLINE_MAX_BYTES` is written once to
``<data_dir>/peer-messages/<name>``, where ``name`` is the SHA-256 of the
message key (collaboration, sender, receiver, message id): the same key always
maps to the same file, so a retried store rewrites identical bytes and two
messages never share a file. The write goes to a temporary file that is
fsync'd and renamed into place (then the directory is fsync'd), so a file
either holds the whole message or does not exist. Once on disk, its pages are
let go from the page cache (:func:`drop_cached`): a protocol reads a message
from memory as it arrives, and reads the file again only after a restart, so
keeping it cached would only grow the cache by every message received. The
database row keeps the
name and the payload's SHA-256; reading checks the hash, so a file damaged or
altered on disk is refused rather than handed to a protocol.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from insitu.errors import InternalError
from insitu.federation.messages import MessageKey

#: Messages up to this size stay in the database row; larger ones go to a file.
INLINE_MAX_BYTES = 256 << 10

_NAME = re.compile(r"^[0-9a-f]{64}$")


def file_name(key: MessageKey) -> str:
    """The file name of a message: hex SHA-256 over its length-prefixed key fields."""
    h = hashlib.sha256(b"insitu-peer-message-v1")
    for part in key:
        raw = part.encode("utf-8")
        h.update(len(raw).to_bytes(4, "big") + raw)
    return h.hexdigest()


class MessageFiles:
    """The ``peer-messages`` directory of one node (shared by its server processes)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):  # names come from database rows: never a path
            raise InternalError(f"not a peer message file name: {name[:80]!r}")
        return self.root / name

    def write(self, name: str, payload: bytes | memoryview) -> None:
        """Write ``payload`` under ``name`` durably and atomically (replacing identical bytes)."""
        target = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.{secrets.token_hex(8)}.tmp"
        try:
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
                drop_cached(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)

    def adopt(self, path: Path, name: str) -> None:
        """Rename an fsync'd file in this directory (a spool file) to ``name``, durably."""
        os.replace(path, self._path(name))
        _fsync_dir(self.root)

    def read(self, name: str, sha256_hex: str) -> bytes:
        """The bytes stored under ``name``; they must hash to ``sha256_hex``.

        Raises
        ------
        InternalError
            When the file is missing or its content does not match the hash
            recorded with the message (damaged or altered on disk).
        """
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            raise InternalError(f"stored peer message file {name} is missing") from None
        if hashlib.sha256(data).hexdigest() != sha256_hex:
            raise InternalError(f"stored peer message file {name} does not match its SHA-256")
        return data

    def delete(self, names: Iterable[str]) -> None:
        """Remove the files of messages that were discarded (missing ones are fine)."""
        for name in names:
            self._path(name).unlink(missing_ok=True)


def drop_cached(fd: int) -> None:
    """Let the kernel free the (synced, hence clean) cached pages of file ``fd``.

    New writes then reuse those pages instead of taking fresh memory, which
    costs more than the copy itself on some machines (virtual machines whose
    memory the host backs on first touch). Advisory: a no-op where unsupported.
    """
    if _FADV_DONTNEED is not None:
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, _FADV_DONTNEED)


_FADV_DONTNEED: int | None = getattr(os, "POSIX_FADV_DONTNEED", None)


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["INLINE_MAX_BYTES", "MessageFiles", "file_name"]
