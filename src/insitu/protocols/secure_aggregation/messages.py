"""Wire format of secure-aggregation messages: one version byte, strict parsing.

Every message is ``version ‖ kind ‖ session (16 bytes) ‖ round (u32) ‖ body``
(big-endian integers). The session id binds a message to one job (it is a
prefix of the job spec's hash) and the round number to one aggregation
round, so a message replayed from another job or round is refused.
Parsing checks the version, kind, session, round and exact body length and
raises :class:`~insitu.errors.ProtocolAbort` on any mismatch; the error never
quotes the payload.
"""

from __future__ import annotations

import struct
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from insitu.crypto.prg import SEED_BYTES
from insitu.errors import ProtocolAbort

VERSION = 1
SESSION_BYTES = 16
_HEADER = struct.Struct(">BB16sI")
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
MAX_REASON = 512


class Kind(IntEnum):
    """What a message carries."""

    SHARE_SEED = 1  # input → computing party: a 32-byte seed standing for a share
    SHARE_VECTOR = 2  # input → computing party: the explicit share
    DECLINE = 3  # input → computing party: this input will not contribute
    HELD = 4  # computing → result party: the inputs whose shares it holds
    ROSTER = 5  # result → computing party: the inputs to add up
    AGGREGATE = 6  # computing → result party: sum of the roster's shares
    ABORT = 7  # any → any: the job stops; carries a reason
    CONTROL = 8  # result → others: job-level instruction, opaque to this layer


def pack(kind: Kind, session: bytes, round_: int, body: bytes = b"") -> bytes:
    """Serialise a message."""
    if len(session) != SESSION_BYTES:
        raise ValueError(f"session must be {SESSION_BYTES} bytes")
    return _HEADER.pack(VERSION, int(kind), session, round_) + body


def unpack(
    payload: bytes, *, session: bytes, round_: int, kinds: tuple[Kind, ...]
) -> tuple[Kind, memoryview]:
    """Check the header of ``payload`` and return its kind and body (a view, not a copy).

    Raises
    ------
    ProtocolAbort
        On a wrong version, unexpected kind, other session or other round.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise ProtocolAbort("message is not bytes")
    data = bytes(payload)
    if len(data) < _HEADER.size:
        raise ProtocolAbort("message shorter than its header")
    version, kind_raw, got_session, got_round = _HEADER.unpack_from(data)
    if version != VERSION:
        raise ProtocolAbort(f"unsupported message version {version}")
    try:
        kind = Kind(kind_raw)
    except ValueError:
        raise ProtocolAbort(f"unknown message kind {kind_raw}") from None
    if kind is Kind.ABORT and Kind.ABORT not in kinds:
        raise ProtocolAbort(f"peer aborted: {decode_reason(memoryview(data)[_HEADER.size :])}")
    if kind not in kinds:
        raise ProtocolAbort(f"unexpected message kind {kind.name}")
    if got_session != session:
        raise ProtocolAbort("message belongs to another session")
    if got_round != round_:
        raise ProtocolAbort(f"message for round {got_round}, expected round {round_}")
    return kind, memoryview(data)[_HEADER.size :]


def pack_vector(kind: Kind, session: bytes, round_: int, vector: npt.NDArray[np.uint64]) -> bytes:
    """Serialise a vector message (element count, then little-endian words) in one copy."""
    words = np.ascontiguousarray(vector, dtype="<u8")
    return b"".join((pack(kind, session, round_), _U64.pack(words.size), words.data))


def decode_vector(body: bytes | memoryview, length: int) -> npt.NDArray[np.uint64]:
    """Parse a vector body of exactly ``length`` elements (a read-only view of ``body``)."""
    if len(body) < _U64.size:
        raise ProtocolAbort("vector message too short")
    (count,) = _U64.unpack_from(body)
    if count != length or len(body) != _U64.size + 8 * length:
        raise ProtocolAbort(f"vector has the wrong length (expected {length} elements)")
    return np.frombuffer(body, dtype="<u8", offset=_U64.size).view(np.uint64)


def encode_seed(seed: bytes, length: int) -> bytes:
    """Body of a seed message: the vector length it expands to, then the seed."""
    return _U64.pack(length) + seed


def decode_seed(body: bytes | memoryview, length: int) -> bytes:
    """Parse a seed body for a vector of ``length`` elements."""
    if len(body) != _U64.size + SEED_BYTES:
        raise ProtocolAbort("seed message has the wrong size")
    (count,) = _U64.unpack_from(body)
    if count != length:
        raise ProtocolAbort(f"seed stands for the wrong length (expected {length} elements)")
    return bytes(body[_U64.size :])


def encode_indices(indices: list[int]) -> bytes:
    """Body listing input-party indices, sorted and distinct."""
    ordered = sorted(set(indices))
    return _U16.pack(len(ordered)) + b"".join(_U16.pack(i) for i in ordered)


def decode_indices(body: bytes | memoryview, limit: int) -> list[int]:
    """Parse an index list; every index must be below ``limit``, sorted and distinct."""
    if len(body) < _U16.size:
        raise ProtocolAbort("index list too short")
    (count,) = _U16.unpack_from(body)
    if len(body) != _U16.size * (count + 1):
        raise ProtocolAbort("index list has the wrong size")
    out = [_U16.unpack_from(body, _U16.size * (k + 1))[0] for k in range(count)]
    if any(i >= limit for i in out) or out != sorted(set(out)):
        raise ProtocolAbort("index list is not a sorted set of known inputs")
    return out


def encode_reason(reason: str) -> bytes:
    """Body of an abort or decline: a short UTF-8 reason."""
    return reason.encode("utf-8")[:MAX_REASON]


def decode_reason(body: bytes | memoryview) -> str:
    """Parse a reason body (lossy, bounded)."""
    return bytes(body[:MAX_REASON]).decode("utf-8", errors="replace")


__all__ = [
    "SESSION_BYTES",
    "VERSION",
    "Kind",
    "decode_indices",
    "decode_reason",
    "decode_seed",
    "decode_vector",
    "encode_indices",
    "encode_reason",
    "encode_seed",
    "pack",
    "pack_vector",
    "unpack",
]
