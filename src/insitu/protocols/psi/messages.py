"""Versioned binary messages of the ECDH-PSI protocol and their strict parsers.

Every message starts with a fixed header::

    version u8 | kind u8 | run_id 16 bytes | seq u32 | last u8 | count u32

followed by ``count`` records whose size depends on the kind. Integers are
big-endian. Parsing checks every length; anything else is a
:class:`~insitu.errors.ProtocolAbort`. Replay and ordering are checked by the
parties, which track ``(kind, seq)`` per run.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum

from insitu.errors import ProtocolAbort

VERSION = 1
RUN_ID_BYTES = 16
TAG_BYTES = 11
ELEMENT_BYTES = 32
_HEADER = struct.Struct(">BB16sIBI")
HEADER_BYTES = _HEADER.size


class Kind(IntEnum):
    """Message kinds, in protocol order."""

    HELLO = 1
    SENDER_HELLO = 2
    BLINDED = 3
    SENDER_ITEMS = 4
    REBLINDED = 5
    AGGREGATE = 6
    MATCHES = 7


@dataclass(frozen=True)
class Message:
    """A parsed message: header fields and the raw body (``count`` records)."""

    kind: Kind
    run_id: bytes
    seq: int
    last: bool
    count: int
    body: bytes

    def to_bytes(self) -> bytes:
        """Wire form of this message."""
        return encode(self.kind, self.run_id, self.seq, self.last, self.count, self.body)


def encode(kind: Kind, run_id: bytes, seq: int, last: bool, count: int, body: bytes) -> bytes:
    """Wire form of a message with the given header fields and body."""
    if len(run_id) != RUN_ID_BYTES:
        raise ValueError("run id must be 16 bytes")
    return _HEADER.pack(VERSION, int(kind), run_id, seq, 1 if last else 0, count) + body


def decode(data: bytes, *, expect: Kind) -> Message:
    """Parse ``data`` as a message of kind ``expect``; raise :class:`ProtocolAbort` otherwise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProtocolAbort("message is not bytes")
    data = bytes(data)
    if len(data) < HEADER_BYTES:
        raise ProtocolAbort("message shorter than its header")
    version, kind, run_id, seq, last, count = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ProtocolAbort(f"unsupported message version {version}")
    if kind != expect:
        raise ProtocolAbort(f"expected a {expect.name} message, got kind {kind}")
    if last not in (0, 1):
        raise ProtocolAbort("bad last flag")
    return Message(Kind(kind), run_id, seq, bool(last), count, data[HEADER_BYTES:])


def split_fixed(message: Message, size: int) -> list[bytes]:
    """The body's ``count`` records of ``size`` bytes each; abort on a length mismatch."""
    body = message.body
    if len(body) != message.count * size:
        raise ProtocolAbort(
            f"{message.kind.name} body has {len(body)} bytes for {message.count} records"
        )
    return [body[i : i + size] for i in range(0, len(body), size)]


class SequenceCheck:
    """Accepts the chunks of one message stream exactly once and in order.

    A chunk from another run, a repeated or skipped ``seq``, or any chunk
    after the one flagged ``last`` raises :class:`ProtocolAbort`.
    """

    def __init__(self, kind: Kind, run_id: bytes) -> None:
        self.kind = kind
        self.run_id = run_id
        self.next_seq = 0
        self.done = False
        self.records = 0

    def accept(self, message: Message) -> None:
        """Check ``message`` against the stream state and advance it."""
        if message.run_id != self.run_id:
            raise ProtocolAbort(f"{self.kind.name} message belongs to another run")
        if self.done:
            raise ProtocolAbort(f"{self.kind.name} message after the last one (replay?)")
        if message.seq != self.next_seq:
            raise ProtocolAbort(
                f"{self.kind.name} chunk {message.seq} out of order (expected {self.next_seq})"
            )
        self.next_seq += 1
        self.records += message.count
        self.done = message.last

    def require_done(self) -> None:
        """Abort if the stream has not seen its last chunk."""
        if not self.done:
            raise ProtocolAbort(f"{self.kind.name} stream ended before its last chunk")


def element_bodies(
    messages: Iterable[bytes], check: SequenceCheck, record: int = ELEMENT_BYTES
) -> Iterator[bytes]:
    """Bodies of a stream of fixed-size records (``check.kind``), each message checked."""
    for data in messages:
        message = decode(data, expect=check.kind)
        check.accept(message)
        if len(message.body) != message.count * record:
            raise ProtocolAbort(f"{check.kind.name} body length does not match its count")
        yield message.body


def element_messages(
    kind: Kind, run_id: bytes, blocks: Iterable[bytes], record: int = ELEMENT_BYTES
) -> Iterator[bytes]:
    """One message per block of fixed-size records, the last one flagged (empty if none)."""
    pending: bytes | None = None
    seq = 0
    for block in blocks:
        if pending is not None:
            yield encode(kind, run_id, seq, False, len(pending) // record, pending)
            seq += 1
        pending = block
    pending = pending or b""
    yield encode(kind, run_id, seq, True, len(pending) // record, pending)


__all__ = [
    "ELEMENT_BYTES",
    "HEADER_BYTES",
    "RUN_ID_BYTES",
    "TAG_BYTES",
    "VERSION",
    "Kind",
    "Message",
    "SequenceCheck",
    "decode",
    "element_bodies",
    "element_messages",
    "encode",
    "split_fixed",
]
