"""Binary framing of protocol messages between nodes: envelope, chunker, reassembler.

A protocol message (bytes of any size up to a limit) travels as one or more
*frames*. Each frame is a compact binary header followed by one chunk of the
payload::

    magic "IF" | version u8 | 4 x (length u8 + UTF-8 text):
    collab_id, sender, receiver, msg_id | chunk_index u32 | chunk_count u32 |
    total_size u64 | total_sha256 (32 bytes) | chunk bytes (the rest)

All integers are big-endian. ``total_sha256`` is the SHA-256 of the whole
payload in the last frame (``chunk_index == chunk_count - 1``) and 32 zero
bytes in every other frame (version 2; in version 1 every frame carried it),
so a sender hashes the message as its frames go out instead of reading all of
it before the first one. The receiver reassembles chunks in any order, ignores
exact duplicates (a retried POST) and aborts on anything that cannot come from
an honest sender: conflicting duplicates, inconsistent counts or sizes, a
hash in a frame other than the last, a total over the per-message limit, or a
payload that does not match the last frame's hash (so a frame of another
message under the same id is caught when the message completes). Frames are
authenticated by the request signature around them
(:mod:`insitu.federation.signing`), not by this module.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from insitu.computations.channel import DEFAULT_MAX_MESSAGE
from insitu.errors import ProtocolAbort

MAGIC = b"IF"
VERSION = 2
DEFAULT_CHUNK_BYTES = 8 << 20  # 8 MiB
MAX_ID_BYTES = 255
#: ``total_sha256`` of every frame but the last.
NO_SHA256 = bytes(32)

_TAIL = struct.Struct(">IIQ32s")  # chunk_index, chunk_count, total_size, total_sha256

MessageKey = tuple[str, str, str, str]  # collab_id, sender, receiver, msg_id


@dataclass(frozen=True)
class Envelope:
    """One frame: routing fields, chunk position, whole-message size and hash, chunk bytes.

    ``total_sha256`` is the payload's SHA-256 in the last frame, :data:`NO_SHA256`
    in the others.
    """

    collab_id: str
    sender: str
    receiver: str
    msg_id: str
    chunk_index: int
    chunk_count: int
    total_size: int
    total_sha256: bytes
    payload: bytes | memoryview

    @property
    def is_last(self) -> bool:
        """Whether this is the message's last frame (the one that carries its hash)."""
        return self.chunk_index == self.chunk_count - 1

    @property
    def key(self) -> MessageKey:
        """Which message this frame belongs to."""
        return (self.collab_id, self.sender, self.receiver, self.msg_id)

    def header_bytes(self) -> bytes:
        """The encoded header alone (everything before the chunk bytes)."""
        out = bytearray(MAGIC)
        out.append(VERSION)
        for text in (self.collab_id, self.sender, self.receiver, self.msg_id):
            raw = text.encode("utf-8")
            if not raw or len(raw) > MAX_ID_BYTES:
                raise ValueError(f"ids must be 1-{MAX_ID_BYTES} bytes of UTF-8, got {text!r}")
            out.append(len(raw))
            out += raw
        if len(self.total_sha256) != 32:
            raise ValueError("total_sha256 must be 32 bytes")
        out += _TAIL.pack(self.chunk_index, self.chunk_count, self.total_size, self.total_sha256)
        return bytes(out)

    def to_bytes(self) -> bytes:
        """Header followed by the chunk bytes."""
        return self.header_bytes() + self.payload

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Envelope:
        """Decode a frame; the payload is a zero-copy view into ``data``.

        Raises
        ------
        ProtocolAbort
            If the magic, version or header layout is wrong.
        """
        view = memoryview(data)
        if len(view) < 3 or bytes(view[:2]) != MAGIC:
            raise ProtocolAbort("not a message frame (bad magic)")
        if view[2] != VERSION:
            raise ProtocolAbort(f"unsupported frame version {view[2]}; expected {VERSION}")
        pos = 3
        ids: list[str] = []
        for _ in range(4):
            if pos >= len(view):
                raise ProtocolAbort("truncated frame header")
            length = view[pos]
            end = pos + 1 + length
            if length == 0 or end > len(view):
                raise ProtocolAbort("truncated or empty id in frame header")
            try:
                ids.append(bytes(view[pos + 1 : end]).decode("utf-8"))
            except UnicodeDecodeError:
                raise ProtocolAbort("id in frame header is not UTF-8") from None
            pos = end
        if pos + _TAIL.size > len(view):
            raise ProtocolAbort("truncated frame header")
        index, count, total_size, total_sha = _TAIL.unpack_from(view, pos)
        collab_id, sender, receiver, msg_id = ids
        payload = view[pos + _TAIL.size :]
        return cls(
            collab_id, sender, receiver, msg_id, index, count, total_size, total_sha, payload
        )


class Chunker:
    """Splits a message payload into frames of at most ``chunk_bytes`` each."""

    def __init__(self, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int):
            raise TypeError("chunk_bytes must be an int")
        if chunk_bytes < 1:
            raise ValueError("chunk_bytes must be positive")
        self.chunk_bytes = chunk_bytes

    def split(
        self,
        payload: bytes | bytearray | memoryview,
        *,
        collab_id: str,
        sender: str,
        receiver: str,
        msg_id: str,
    ) -> Iterator[Envelope]:
        """Yield the frames of ``payload`` in order (one empty frame for ``b""``).

        Chunks are zero-copy views into ``payload``. The payload is hashed a
        chunk at a time as the frames are taken, so the last frame's hash costs
        the consumer no pass of its own before the first frame.
        """
        view = memoryview(payload).cast("B")
        total = hashlib.sha256()
        count = self.count(len(view))
        for index in range(count):
            chunk = view[index * self.chunk_bytes : (index + 1) * self.chunk_bytes]
            total.update(chunk)
            digest = total.digest() if index == count - 1 else NO_SHA256
            yield Envelope(
                collab_id, sender, receiver, msg_id, index, count, len(view), digest, chunk
            )

    def count(self, size: int) -> int:
        """How many frames a payload of ``size`` bytes takes."""
        return max(1, -(-size // self.chunk_bytes))


@dataclass
class _Partial:
    count: int
    total_size: int
    total_sha256: bytes | None  # known once the last frame arrived
    chunks: dict[int, bytes | memoryview]
    received: int = 0


class Reassembler:
    """Collects frames into whole messages; thread-safe.

    Parameters
    ----------
    max_message_bytes:
        Largest total size of one message; larger announced totals abort.
    max_pending_bytes:
        Largest sum of bytes held for incomplete messages; a frame that would
        exceed it aborts (the sender retries later or the job fails).
    remember_completed:
        How many completed message keys to remember, so that late duplicate
        frames of a delivered message are ignored instead of delivered again.
        The inbox deduplicates as well, so forgetting old keys is safe.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE,
        max_pending_bytes: int = 2 * DEFAULT_MAX_MESSAGE,
        remember_completed: int = 100_000,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.max_pending_bytes = max_pending_bytes
        self._remember = remember_completed
        self._lock = threading.Lock()
        self._partial: dict[MessageKey, _Partial] = {}
        self._done: OrderedDict[MessageKey, bytes] = OrderedDict()
        self._pending_bytes = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes held for messages not yet complete."""
        return self._pending_bytes

    def accept(self, frame: Envelope) -> bytes | None:
        """Take one frame; return the whole payload when this frame completes it.

        Returns ``None`` while chunks are missing, and for duplicates of a frame
        already held or of a message already delivered (a late frame other than
        the last cannot be compared with a delivered message, which only the last
        frame's hash describes: it is ignored).

        Raises
        ------
        ProtocolAbort
            On a conflicting duplicate, inconsistent count/size/hash, a total
            over ``max_message_bytes``, a full buffer or a hash mismatch. The
            message's partial state is dropped, so a sender must start it anew.
        """
        delivered = self.accept_message(frame)
        return None if delivered is None else delivered[0]

    def accept_message(self, frame: Envelope) -> tuple[bytes, bytes] | None:
        """:meth:`accept`, returning the payload with its (checked) SHA-256."""
        key = frame.key
        with self._lock:
            done_sha = self._done.get(key)
            if done_sha is not None:
                if frame.is_last and done_sha != frame.total_sha256:
                    raise ProtocolAbort(
                        f"message {frame.msg_id!r} was already delivered with other content"
                    )
                return None
            try:
                return self._accept(key, frame)
            except ProtocolAbort:
                self._drop(key)
                raise

    def discard(self, collab_id: str) -> int:
        """Drop every partial message of a collaboration that ended; return how many."""
        with self._lock:
            gone = [key for key in self._partial if key[0] == collab_id]
            for key in gone:
                self._drop(key)
            return len(gone)

    def _accept(self, key: MessageKey, frame: Envelope) -> tuple[bytes, bytes] | None:
        _check_frame(frame, self.max_message_bytes)
        partial = self._partial.get(key)
        if partial is None:
            partial = _Partial(frame.chunk_count, frame.total_size, None, {})
            self._partial[key] = partial
        elif (partial.count, partial.total_size) != (frame.chunk_count, frame.total_size):
            raise ProtocolAbort(f"frames of message {frame.msg_id!r} disagree on count or size")
        if frame.is_last:
            if partial.total_sha256 is None:
                partial.total_sha256 = frame.total_sha256
            elif partial.total_sha256 != frame.total_sha256:
                raise ProtocolAbort(f"last frames of message {frame.msg_id!r} disagree on hash")
        held = partial.chunks.get(frame.chunk_index)
        if held is not None:
            if held != frame.payload:
                raise ProtocolAbort(
                    f"conflicting duplicate of chunk {frame.chunk_index} "
                    f"of message {frame.msg_id!r}"
                )
            return None
        size = len(frame.payload)
        if partial.received + size > partial.total_size:
            raise ProtocolAbort(f"chunks of message {frame.msg_id!r} exceed its announced size")
        if self._pending_bytes + size > self.max_pending_bytes:
            raise ProtocolAbort("too many bytes pending reassembly; message refused")
        chunk = partial.chunks[frame.chunk_index] = _keep(frame.payload)
        partial.received += size
        self._pending_bytes += size
        self._chunk_held(frame, chunk)
        if len(partial.chunks) < partial.count:
            return None
        payload = b"".join(partial.chunks[i] for i in range(partial.count))
        if len(payload) != partial.total_size:
            raise ProtocolAbort(f"message {frame.msg_id!r} is shorter than its announced size")
        total_sha256 = partial.total_sha256
        if total_sha256 is None or self._digest(key, payload) != total_sha256:
            raise ProtocolAbort(f"message {frame.msg_id!r} does not match its SHA-256")
        self._drop(key, completed=True)
        self._done[key] = total_sha256
        while len(self._done) > self._remember:
            self._done.popitem(last=False)
        return payload, total_sha256

    def _drop(self, key: MessageKey, *, completed: bool = False) -> None:
        partial = self._partial.pop(key, None)
        if partial is not None:
            self._pending_bytes -= partial.received
            self._released(key, completed=completed)

    # -- hooks for subclasses; called with the lock held, so they must be quick ----------
    def _chunk_held(self, frame: Envelope, chunk: bytes | memoryview) -> None:
        """A new chunk (``frame``'s, now held as ``chunk``) of a message was taken."""

    def _digest(self, key: MessageKey, payload: bytes) -> bytes:
        """The SHA-256 of a reassembled ``payload``, compared with the announced one."""
        return hashlib.sha256(payload).digest()

    def _released(self, key: MessageKey, *, completed: bool) -> None:
        """The chunks of ``key`` were let go: it completed, or it was refused or discarded."""


def _keep(chunk: bytes | memoryview) -> bytes | memoryview:
    """Hold a chunk without copying when it is a view of immutable bytes."""
    if isinstance(chunk, memoryview) and isinstance(chunk.obj, bytes):
        return chunk
    return bytes(chunk)


def _check_frame(frame: Envelope, max_message_bytes: int) -> None:
    if frame.total_size > max_message_bytes:
        raise ProtocolAbort(
            f"message {frame.msg_id!r} of {frame.total_size} bytes exceeds the limit of "
            f"{max_message_bytes}"
        )
    if frame.chunk_count < 1 or frame.chunk_index >= frame.chunk_count:
        raise ProtocolAbort(
            f"chunk {frame.chunk_index} of {frame.chunk_count} is out of range "
            f"in message {frame.msg_id!r}"
        )
    if frame.chunk_count > max(1, frame.total_size):
        raise ProtocolAbort(f"message {frame.msg_id!r} announces more chunks than bytes")
    if not frame.is_last and frame.total_sha256 != NO_SHA256:
        raise ProtocolAbort(
            f"frame {frame.chunk_index} of message {frame.msg_id!r} carries a hash; "
            "only the last frame does"
        )


__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "MAGIC",
    "NO_SHA256",
    "VERSION",
    "Chunker",
    "Envelope",
    "MessageKey",
    "Reassembler",
]
