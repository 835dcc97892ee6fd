"""Bodies of the sender's PSI messages (SENDER_HELLO, SENDER_ITEMS) and their parsers.

SENDER_HELLO body: ``size u64 | limbs u8 | limbs × 32-byte public keys``.
SENDER_ITEMS records, by mode:

* INTERSECTION, CARDINALITY: ``tag`` (11 bytes);
* PAYLOAD: ``tag | length u32 | ChaCha20-Poly1305 ciphertext``;
* SUM: ``tag | R | C_1 … C_limbs`` (32 bytes each).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from insitu.crypto import elgamal
from insitu.crypto import ristretto as group
from insitu.errors import ProtocolAbort
from insitu.protocols.psi import messages as m
from insitu.protocols.psi.modes import Mode

MAX_LIMBS = 8
MAX_PAYLOAD_BYTES = 1 << 20


def sender_hello(run_id: bytes, size: int, publics: Sequence[bytes]) -> bytes:
    """SENDER_HELLO message announcing ``size`` items and the limb keys."""
    body = struct.pack(">QB", size, len(publics)) + b"".join(publics)
    return m.encode(m.Kind.SENDER_HELLO, run_id, 0, True, 1, body)


def parse_sender_hello(data: bytes, run_id: bytes, mode: Mode) -> tuple[int, tuple[bytes, ...]]:
    """``(size, publics)`` from a SENDER_HELLO; abort on any inconsistency."""
    message = m.decode(data, expect=m.Kind.SENDER_HELLO)
    m.SequenceCheck(m.Kind.SENDER_HELLO, run_id).accept(message)
    if len(message.body) < 9:
        raise ProtocolAbort("SENDER_HELLO too short")
    size, limbs = struct.unpack_from(">QB", message.body)
    if len(message.body) != 9 + 32 * limbs:
        raise ProtocolAbort("SENDER_HELLO has the wrong length")
    if (mode is Mode.SUM) != (limbs > 0) or limbs > MAX_LIMBS:
        raise ProtocolAbort("SENDER_HELLO limb count does not fit the mode")
    publics = tuple(message.body[9 + 32 * i : 41 + 32 * i] for i in range(limbs))
    if not all(group.is_valid(p) for p in publics):
        raise ProtocolAbort("SENDER_HELLO carries an invalid public key")
    return size, publics


def sender_items(
    run_id: bytes, seq: int, last: bool, tags: bytes, extras: Sequence[bytes] | None, mode: Mode
) -> bytes:
    """SENDER_ITEMS message for a block of tags and, per mode, their extras."""
    count = len(tags) // m.TAG_BYTES
    if mode is Mode.PAYLOAD:
        assert extras is not None
        body = b"".join(
            tags[m.TAG_BYTES * i : m.TAG_BYTES * (i + 1)] + struct.pack(">I", len(e)) + e
            for i, e in enumerate(extras)
        )
    elif mode is Mode.SUM:
        assert extras is not None
        body = b"".join(
            tags[m.TAG_BYTES * i : m.TAG_BYTES * (i + 1)] + e for i, e in enumerate(extras)
        )
    else:
        body = tags
    return m.encode(m.Kind.SENDER_ITEMS, run_id, seq, last, count, body)


def parse_sender_items(
    message: m.Message, mode: Mode, limbs: int
) -> Iterator[tuple[bytes, bytes | None]]:
    """``(tag, extra)`` records of a SENDER_ITEMS message; abort on a length mismatch."""
    if mode is Mode.PAYLOAD:
        yield from _payload_records(message)
        return
    extra_size = elgamal.ciphertext_bytes(limbs) if mode is Mode.SUM else 0
    for record in m.split_fixed(message, m.TAG_BYTES + extra_size):
        yield record[: m.TAG_BYTES], (record[m.TAG_BYTES :] if extra_size else None)


def _payload_records(message: m.Message) -> Iterator[tuple[bytes, bytes | None]]:
    body = message.body
    offset = 0
    for _ in range(message.count):
        if offset + m.TAG_BYTES + 4 > len(body):
            raise ProtocolAbort("SENDER_ITEMS payload record truncated")
        tag = body[offset : offset + m.TAG_BYTES]
        (length,) = struct.unpack_from(">I", body, offset + m.TAG_BYTES)
        offset += m.TAG_BYTES + 4
        if length > MAX_PAYLOAD_BYTES + 16 or offset + length > len(body):
            raise ProtocolAbort("SENDER_ITEMS payload record has a bad length")
        yield tag, body[offset : offset + length]
        offset += length
    if offset != len(body):
        raise ProtocolAbort("SENDER_ITEMS body longer than its records")


__all__ = [
    "MAX_PAYLOAD_BYTES",
    "parse_sender_hello",
    "parse_sender_items",
    "sender_hello",
    "sender_items",
]
