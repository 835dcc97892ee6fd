"""Large inbound messages are written to disk and hashed while their frames arrive.

Without this, the frame that completes a large message pays for the whole of it
at once: join, hash, write, fsync. A :class:`SpoolingReassembler` hands every
chunk of a multi-frame message over :data:`INLINE_MAX_BYTES` to a
:class:`Spool`, whose helper thread appends the chunks in order to a temporary
file in the message directory and feeds them to a running SHA-256 while the
next frames are still on the wire (each chunk is synced to disk as it is
written, so little is left for the final fsync). A chunk is held in memory only
until it is written: the whole payload is read back from the file once, when the
message completes (one fresh buffer, where joining the chunks held in memory
would need them all plus that buffer). The reassembler then compares the hash
with the one the last frame carries, and the store adopts the fsync'd file with
a rename (:meth:`FederationStore.put_message`).

Nothing is acknowledged earlier than before: a frame's 204 still means what it
meant (a middle frame is held in memory or in the temporary file, the last
one committed with its message). A spool file that is never adopted (the message
was refused, discarded or already stored) is deleted.
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
from insitu.errors import InternalError
from insitu.federation.messages import Envelope, MessageKey, Reassembler
from insitu.node.federation.message_files import INLINE_MAX_BYTES


class _Entry:
    """One message being spooled: its file, the next chunk index to append, the chunks
    not written yet (early ones wait for those before them), where each one lies."""

    def __init__(self, path: Path, file: BinaryIO) -> None:
        self.path = path
        self.file = file
        self.next = 0
        self.size = 0  # bytes queued for writing
        self.early: dict[int, bytes | memoryview] = {}
        self.unwritten: dict[int, bytes | memoryview] = {}  # queued, or their write failed
        self.spans: dict[int, tuple[int, int]] = {}  # chunk index -> (offset, length)
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

    def chunk(self, frame: Envelope, chunk: bytes | memoryview) -> bool:
        """Queue a new chunk of a message for writing (quick: the helper thread writes).

        ``True`` if the spool keeps the chunk from now on (:meth:`same`,
        :meth:`read`); ``False`` if the caller must hold it (the message is not
        spooled).
        """
        if frame.chunk_count < 2 or frame.total_size <= self._min:
            return False
        key = frame.key
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                path = self.root / f".spool.{secrets.token_hex(16)}.tmp"
                try:
                    self.root.mkdir(parents=True, exist_ok=True)
                    entry = self._entries[key] = _Entry(path, open(path, "w+b"))  # noqa: SIM115
                except OSError:  # the caller holds the chunks; the store writes the file
                    return False
            entry.early[frame.chunk_index] = chunk
            while entry.next in entry.early:
                index = entry.next
                part = entry.unwritten[index] = entry.early.pop(index)
                entry.spans[index] = (entry.size, len(part))
                entry.size += len(part)
                entry.next += 1
                entry.written = self._writer.submit(self._append, entry, index, part)
                entry.hashed = self._hasher.submit(entry.sha256.update, part)
            return True

    def _append(self, entry: _Entry, index: int, part: bytes | memoryview) -> None:
        if entry.failed:
            return
        try:
            entry.file.write(part)
            entry.file.flush()
            _datasync(entry.file.fileno())  # now, so the final fsync has little left to do
        except OSError:
            entry.failed = True  # the chunks stay in memory; the store writes the file
            return
        with self._lock:
            entry.unwritten.pop(index, None)

    def same(self, frame: Envelope) -> bool:
        """Whether ``frame`` repeats the chunk this spool keeps for its index."""
        with self._lock:
            entry = self._entries.get(frame.key)
        if entry is None:
            return False
        return self._chunk_bytes(entry, frame.chunk_index) == frame.payload

    def chunk_bytes(self, key: MessageKey, index: int) -> bytes | memoryview:
        """The chunk this spool keeps for ``index`` of a message (from memory or its file)."""
        with self._lock:
            entry = self._entries[key]
        return self._chunk_bytes(entry, index)

    def read(self, key: MessageKey, count: int) -> bytes:
        """The whole payload of a spooled message whose ``count`` chunks all arrived:
        read back from its file once every chunk is written, else (a write failed)
        put together from the file and the chunks still in memory."""
        with self._lock:
            entry = self._entries[key]
        self._wait_written(entry)
        if not entry.failed and not entry.unwritten and len(entry.spans) == count:
            return _pread_all(entry.file.fileno(), entry.size)
        return b"".join(self._chunk_bytes(entry, i) for i in range(count))

    def _chunk_bytes(self, entry: _Entry, index: int) -> bytes | memoryview:
        self._wait_written(entry)
        with self._lock:
            held = entry.early.get(index, entry.unwritten.get(index))
            span = entry.spans.get(index)
        if held is not None:
            return held
        if span is None:
            raise InternalError("spooled chunk is neither in memory nor in its file")
        offset, length = span
        return _pread_all(entry.file.fileno(), length, offset)

    def _wait_written(self, entry: _Entry) -> None:
        if entry.written is not None:
            entry.written.result()

    def _written(self, entry: _Entry) -> bool:
        """Wait for every queued write of ``entry``; ``True`` if all chunks were written."""
        self._wait_written(entry)
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


def _pread_all(fd: int, length: int, offset: int = 0) -> bytes:
    """``length`` bytes of a file from ``offset`` (one read into one fresh buffer)."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    parts = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise InternalError("spool file is shorter than the chunks written to it")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


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

    def _chunk_held(self, frame: Envelope, chunk: bytes | memoryview) -> bool:
        return self.spool.chunk(frame, chunk)

    def _same_chunk(self, frame: Envelope, held: bytes | memoryview | None) -> bool:
        return self.spool.same(frame) if held is None else super()._same_chunk(frame, held)

    def _assemble(self, key: MessageKey, chunks: list[bytes | memoryview | None]) -> bytes:
        if all(c is None for c in chunks):
            return self.spool.read(key, len(chunks))
        return b"".join(
            c if c is not None else self.spool.chunk_bytes(key, i) for i, c in enumerate(chunks)
        )

    def _digest(self, key: MessageKey, payload: bytes) -> bytes:
        spooled = self.spool.digest(key)
        return spooled if spooled is not None else super()._digest(key, payload)

    def _released(self, key: MessageKey, *, completed: bool) -> None:
        self.spool.released(key, completed=completed)


__all__ = ["Spool", "SpoolingReassembler"]
