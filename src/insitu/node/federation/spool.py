"""Large inbound messages are written to disk and hashed while their frames arrive.

Without this, the frame that completes a large message pays for the whole of it
at once: join, hash, write, fsync. A :class:`SpoolingReassembler` hands every
chunk of a multi-frame message over :data:`INLINE_MAX_BYTES` to a
:class:`Spool`, whose helper thread appends the chunks in order to a temporary
file in the message directory and feeds them to a running SHA-256 while the
next frames are still on the wire. Each chunk is synced to disk as it is
written, so little is left for the final fsync, and its cached pages are then
let go (:func:`~insitu.node.federation.message_files.drop_cached`). When the
message completes, the reassembler compares that hash with the announced one,
and the store adopts the fsync'd file with a rename
(:meth:`FederationStore.put_message`).

Nothing is acknowledged earlier than before: a frame's 204 still means what it
meant (a middle frame is held in memory, the last one committed with its
message). A spool file that is never adopted (the message was refused,
discarded or already stored) is deleted.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from insitu.computations.channel import DEFAULT_MAX_MESSAGE
from insitu.federation.messages import Envelope, MessageKey, Reassembler
from insitu.node.federation.message_files import INLINE_MAX_BYTES, drop_cached


class _Entry:
    """One message being spooled: its file, the next chunk index to append, early chunks."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self.file = file
        self.next = 0
        self.early: dict[int, bytes | memoryview] = {}
        self.sha256 = hashlib.sha256()
        self.written: Future[None] | None = None  # the last queued write
        self.hashed: Future[None] | None = None  # the last queued hash update
        self.failed = False
        self.complete = False


class Spool:
    """Temporary files of large messages being received, written by one helper thread
    and hashed by another (both release the GIL while they work).

    Thread-safe. ``root`` is the message directory (the same file system as the
    final files, so adopting one is a rename).
    """

    def __init__(self, root: Path, *, min_bytes: int = INLINE_MAX_BYTES) -> None:
        self.root = root
        self._min = min_bytes
        self._lock = threading.Lock()
        self._entries: dict[MessageKey, _Entry] = {}
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="insitu-spool")
        self._hasher = ThreadPoolExecutor(1, thread_name_prefix="insitu-spool-hash")

    def chunk(self, frame: Envelope, chunk: bytes | memoryview) -> None:
        """Queue a new chunk of a message for writing (quick: the helper thread writes)."""
        if frame.chunk_count < 2 or frame.total_size <= self._min:
            return
        key = frame.key
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                path = self.root / f".spool.{secrets.token_hex(16)}.tmp"
                try:
                    self.root.mkdir(parents=True, exist_ok=True)
                    entry = self._entries[key] = _Entry(path, open(path, "wb"))  # noqa: SIM115
                except OSError:  # the store writes the message itself
                    return
            entry.early[frame.chunk_index] = chunk
            while entry.next in entry.early:
                part = entry.early.pop(entry.next)
                entry.next += 1
                entry.written = self._writer.submit(self._append, entry, part)
                entry.hashed = self._hasher.submit(entry.sha256.update, part)

    def _append(self, entry: _Entry, part: bytes | memoryview) -> None:
        if entry.failed:
            return
        try:
            entry.file.write(part)
            entry.file.flush()
            _datasync(entry.file.fileno())  # now, so the final fsync has little left to do
            drop_cached(entry.file.fileno())  # written pages are reused for the next chunk
        except OSError:
            entry.failed = True  # the store writes the file itself instead

    def _written(self, entry: _Entry) -> bool:
        """Wait for every queued write of ``entry``; ``True`` if all chunks were written."""
        if entry.written is not None:
            entry.written.result()
        return not entry.failed and not entry.early

    def digest(self, key: MessageKey) -> bytes | None:
        """SHA-256 of every chunk of a spooled message, else ``None`` (not spooled)."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry.early:
            return None
        if entry.hashed is not None:
            entry.hashed.result()
        return entry.sha256.digest()

    def released(self, key: MessageKey, *, completed: bool) -> None:
        """The reassembler let the message go: keep a completed one for :meth:`take`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            if completed:
                entry.complete = True
                return
            del self._entries[key]
        self._writer.submit(_remove, entry)

    def take(self, key: MessageKey) -> Path | None:
        """The fsync'd file of a completed message, now the caller's to rename or delete.

        ``None`` when the message was not spooled (small, single frame, or a
        write failed); the caller then writes the payload itself.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.complete:
                return None
            del self._entries[key]
        if not self._written(entry):
            _remove(entry)
            return None
        try:
            entry.file.flush()
            os.fsync(entry.file.fileno())
            entry.file.close()
        except OSError:
            _remove(entry)
            return None
        return entry.path

    def discard(self) -> None:
        """Delete every spool file (the node is closing)."""
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for entry in entries:
            self._writer.submit(_remove, entry)
        self._writer.shutdown(wait=True)
        self._hasher.shutdown(wait=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def sweep(self, *, older_than: float, now: float | None = None) -> int:
        """Delete spool files untouched for ``older_than`` seconds; how many were deleted.

        Left by a node that stopped while receiving. A live spool file is written
        every few seconds at most (frames of one message arrive within the
        sender's retry deadline), so an old one belongs to no one.
        """
        cutoff = (time.time() if now is None else now) - older_than
        with self._lock:
            live = {entry.path for entry in self._entries.values()}
        removed = 0
        for path in self.root.glob(".spool.*.tmp"):
            try:
                if path not in live and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


_datasync = getattr(os, "fdatasync", os.fsync)


def _remove(entry: _Entry) -> None:
    entry.file.close()
    entry.path.unlink(missing_ok=True)


class SpoolingReassembler(Reassembler):
    """A :class:`Reassembler` that spools large messages (see the module docstring)."""

    def __init__(
        self,
        spool: Spool,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE,
        max_pending_bytes: int = 2 * DEFAULT_MAX_MESSAGE,
        remember_completed: int = 100_000,
    ) -> None:
        super().__init__(
            max_message_bytes=max_message_bytes,
            max_pending_bytes=max_pending_bytes,
            remember_completed=remember_completed,
        )
        self.spool = spool

    def _chunk_held(self, frame: Envelope, chunk: bytes | memoryview) -> None:
        self.spool.chunk(frame, chunk)

    def _digest(self, key: MessageKey, payload: bytes) -> bytes:
        spooled = self.spool.digest(key)
        return spooled if spooled is not None else super()._digest(key, payload)

    def _released(self, key: MessageKey, *, completed: bool) -> None:
        self.spool.released(key, completed=completed)


__all__ = ["Spool", "SpoolingReassembler"]
