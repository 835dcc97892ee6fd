"""Job-level control messages (result party → others) and message ids."""

from __future__ import annotations

import json
from typing import Any

from insitu.computations.channel import Channel
from insitu.crypto.hashing import canonical_json
from insitu.errors import InsituError, ProtocolAbort
from insitu.protocols.secure_aggregation import abort_message
from insitu.protocols.secure_aggregation import messages as m


def msg_id(job_id: str, round_: int, step: str) -> str:
    """Channel message id of ``step`` (share, held, roster, sum, control) in ``round_``."""
    return f"secure_stats/{job_id}/{round_}/{step}"


def pack_control(session: bytes, round_: int, body: dict[str, Any]) -> bytes:
    """A ``CONTROL`` message with a canonical-JSON body."""
    try:
        data = canonical_json(body)
    except ValueError:
        raise ProtocolAbort("control message holds a non-finite number") from None
    return m.pack(m.Kind.CONTROL, session, round_, data)


def unpack_control(payload: bytes, session: bytes, round_: int) -> dict[str, Any]:
    """Parse a ``CONTROL`` message; an ``ABORT`` or anything malformed raises ProtocolAbort."""
    _, body = m.unpack(payload, session=session, round_=round_, kinds=(m.Kind.CONTROL,))
    try:
        data = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ProtocolAbort("control message is not JSON") from None
    if not isinstance(data, dict) or data.get("op") not in ("next", "done"):
        raise ProtocolAbort("control message has no known op")
    return data


def broadcast_abort(
    channel: Channel, targets: list[tuple[str, str]], session: bytes, round_: int, reason: str
) -> None:
    """Best effort: tell each ``(party, message id)`` that the job stopped."""
    payload = abort_message(session, round_, reason)
    for party, mid in targets:
        try:
            channel.send(party, mid, payload)
        except InsituError:
            continue


__all__ = ["broadcast_abort", "msg_id", "pack_control", "unpack_control"]
