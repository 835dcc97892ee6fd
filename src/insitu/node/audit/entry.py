"""One audit entry: hash-chained to its predecessor and signed with the node key.

Each entry's ``hash`` is SHA-256 over the canonical JSON of every field but
``hash`` and ``signature`` (so it covers ``prev_hash`` and thereby the whole
chain before it); ``signature`` is Ed25519 (RFC 8032) by the node's key over
``ENTRY_DOMAIN + hash``. The domain prefix keeps an entry signature from ever
being valid as the same key's signature on anything else the node signs
(checkpoints, peer calls).

Threat model: whoever can write the node's database but does not hold its
signing key cannot edit, insert or reorder entries without
:func:`insitu.node.audit.verify` noticing. Deleting the newest entries needs
the signed checkpoint (see :mod:`insitu.node.audit.checkpoint`) to be seen.
Whoever holds the signing key can rewrite everything; the log is evidence
against everyone else, not against the key holder.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from insitu.crypto.hashing import canonical_json, sha256_hex
from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import InvalidInput, SecurityError

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry (seq 0)."""

ENTRY_DOMAIN = b"insitu.audit.entry.v1\n"
"""Prefix of the bytes an entry signature covers (domain separation)."""

_FIELDS = ("seq", "at", "actor", "action", "subject", "data", "prev_hash", "hash", "signature")
_TEXT_FIELDS = ("at", "actor", "action", "subject", "prev_hash", "hash", "signature")


@dataclass(frozen=True)
class AuditEntry:
    """One record of a state change of a node.

    Parameters
    ----------
    seq:
        Position in the chain: 0, 1, 2, … without gaps.
    at:
        ISO-8601 UTC timestamp of the change, chosen by the caller.
    actor:
        Who made the change (a member name, ``policy:<name>``, ``node``).
    action:
        What happened, dotted (``request.approved``).
    subject:
        What it happened to (``request:42``).
    data:
        JSON object with the details. Never private values.
    prev_hash:
        ``hash`` of the entry before, or :data:`GENESIS_HASH`.
    hash:
        Hex SHA-256 of the canonical JSON of the fields above.
    signature:
        URL-safe base64 (unpadded) Ed25519 signature over ``ENTRY_DOMAIN + hash``.
    """

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    signature: str = ""

    def __post_init__(self) -> None:
        if type(self.seq) is not int:
            raise TypeError(f"audit entry seq must be an int, not {type(self.seq).__name__}")
        for name in _TEXT_FIELDS:
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"audit entry field {name!r} must be a string")
        if not isinstance(self.data, dict):
            raise TypeError("audit entry data must be a dict")

    def body(self) -> dict[str, Any]:
        """Every field the hash covers."""
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "data": self.data,
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready (the body plus ``hash`` and ``signature``)."""
        return {**self.body(), "hash": self.hash, "signature": self.signature}

    @classmethod
    def from_dict(cls, value: Any) -> AuditEntry:
        """Rebuild an entry from :meth:`to_dict` output; wrong shape → ``InvalidInput``."""
        if not isinstance(value, dict):
            raise InvalidInput("an audit entry must be a JSON object")
        expected = {*_FIELDS}
        if set(value) != expected:
            raise InvalidInput(
                "an audit entry must have exactly the fields " + ", ".join(sorted(expected))
            )
        try:
            return cls(**value)
        except TypeError as exc:
            raise InvalidInput(str(exc)) from None

    def compute_hash(self) -> str:
        """The hash this entry's body should have (it may differ from ``hash`` if edited)."""
        return sha256_hex(canonical_json(self.body()))

    def is_authentic(self, public_key: VerifyKey) -> bool:
        """True when ``hash`` matches the body and ``signature`` is ``public_key``'s."""
        try:
            body_hash = self.compute_hash()
        except ValueError:  # e.g. NaN smuggled into data: cannot be canonical JSON
            return False
        if body_hash != self.hash:
            return False
        try:
            public_key.verify(_decode_signature(self.signature), ENTRY_DOMAIN + self.hash.encode())
        except SecurityError:
            return False
        return True


def append(
    prev: AuditEntry | None,
    *,
    at: str,
    actor: str,
    action: str,
    subject: str,
    data: dict[str, Any],
    key: SigningKey,
) -> AuditEntry:
    """Make the entry that follows ``prev`` (or the first one), hashed and signed.

    Pure: reads no clock and writes nothing; the caller stores the entry
    (and, after it is committed, a new checkpoint).

    Raises
    ------
    InvalidInput
        ``at`` is not an ISO-8601 UTC timestamp, ``action`` is empty, or
        ``data`` is not a JSON object (NaN and infinities are refused).
    """
    check_timestamp(at)
    if not action:
        raise InvalidInput("an audit entry needs an action")
    entry = AuditEntry(
        seq=0 if prev is None else prev.seq + 1,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        data=_normalise_data(data),
        prev_hash=GENESIS_HASH if prev is None else prev.hash,
    )
    digest = entry.compute_hash()
    signature = key.sign(ENTRY_DOMAIN + digest.encode())
    return AuditEntry(
        **{**entry.to_dict(), "hash": digest, "signature": encode_signature(signature)}
    )


def check_timestamp(at: str) -> None:
    """Raise ``InvalidInput`` unless ``at`` is an ISO-8601 timestamp in UTC."""
    if not isinstance(at, str):
        raise TypeError("the timestamp must be a string")
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError:
        raise InvalidInput(f"not an ISO-8601 timestamp: {at!r}") from None
    if parsed.utcoffset() != timedelta(0):
        raise InvalidInput(f"the timestamp must be in UTC (offset +00:00 or Z): {at!r}")


def encode_signature(signature: bytes) -> str:
    """URL-safe base64 without padding, as used for keys."""
    return base64.urlsafe_b64encode(signature).decode().rstrip("=")


def _decode_signature(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


def _normalise_data(data: dict[str, Any]) -> dict[str, Any]:
    """Round-trip ``data`` through canonical JSON, so a reloaded entry is identical."""
    if not isinstance(data, dict):
        raise TypeError("audit data must be a dict")
    try:
        value: dict[str, Any] = json.loads(canonical_json(data))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"audit data must be JSON (no NaN or infinity): {exc}") from None
    return value
