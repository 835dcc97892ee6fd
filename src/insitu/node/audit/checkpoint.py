"""Signed checkpoint of the newest audit entry, so truncating the chain shows.

A hash chain proves that nothing was changed *before* its newest entry, but
deleting the newest entries leaves a shorter chain that is still perfectly
valid. The node therefore writes, after every append, a small file in its
data directory holding the newest entry's ``seq`` and ``hash`` signed by the
node key (:func:`make_checkpoint`, :func:`write_checkpoint`), and
:func:`insitu.node.audit.verify` compares the chain against it.

What it guarantees: someone who can rewrite the database but not that file
(the database is on another server, restored from an old backup, or edited
through SQL) cannot drop entries from the end unnoticed. What it does not:
someone who can write both the database and the data directory can put back
an *older* checkpoint together with a truncated chain; every old checkpoint
stays validly signed. Against that, copy checkpoints off the node (receipts
and peers already see entry hashes; an export carries the checkpoint).

The signature is Ed25519 over ``CHECKPOINT_DOMAIN`` followed by the canonical
JSON of ``{"seq", "hash"}``; the domain keeps it apart from entry signatures.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insitu.crypto.hashing import canonical_json
from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import InvalidInput, SecurityError
from insitu.node.audit.entry import AuditEntry, encode_signature

CHECKPOINT_DOMAIN = b"insitu.audit.checkpoint.v1\n"
"""Prefix of the bytes a checkpoint signature covers."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Checkpoint:
    """The newest entry's position and hash, signed by the node key.

    Parameters
    ----------
    seq:
        ``seq`` of the newest entry when the checkpoint was written.
    hash:
        That entry's ``hash``.
    signature:
        URL-safe base64 Ed25519 signature over ``CHECKPOINT_DOMAIN`` + canonical
        JSON of ``{"seq": seq, "hash": hash}``.
    """

    seq: int
    hash: str
    signature: str

    def signed_bytes(self) -> bytes:
        """The exact bytes the signature covers."""
        return CHECKPOINT_DOMAIN + canonical_json({"seq": self.seq, "hash": self.hash})

    def is_valid(self, public_key: VerifyKey) -> bool:
        """True when the signature is ``public_key``'s."""
        try:
            raw = base64.urlsafe_b64decode(self.signature + "=" * (-len(self.signature) % 4))
            public_key.verify(raw, self.signed_bytes())
        except (binascii.Error, ValueError, SecurityError):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """``{"seq", "hash", "signature"}``."""
        return {"seq": self.seq, "hash": self.hash, "signature": self.signature}

    def to_json(self) -> str:
        """Canonical JSON text of :meth:`to_dict`."""
        return canonical_json(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, value: Any) -> Checkpoint:
        """Parse :meth:`to_dict` output; wrong shape → ``InvalidInput``."""
        if not isinstance(value, dict) or set(value) != {"seq", "hash", "signature"}:
            raise InvalidInput("a checkpoint is an object with seq, hash and signature")
        seq, digest, signature = value["seq"], value["hash"], value["signature"]
        if type(seq) is not int or seq < 0:
            raise InvalidInput("checkpoint seq must be a non-negative integer")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise InvalidInput("checkpoint hash must be 64 lowercase hex digits")
        if not isinstance(signature, str):
            raise InvalidInput("checkpoint signature must be a string")
        return cls(seq=seq, hash=digest, signature=signature)

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse :meth:`to_json` output; malformed → ``InvalidInput``."""
        try:
            value = json.loads(text)
        except ValueError:
            raise InvalidInput("a checkpoint must be JSON") from None
        return cls.from_dict(value)


def make_checkpoint(entry: AuditEntry, *, key: SigningKey) -> Checkpoint:
    """Sign the position and hash of ``entry``, the newest entry of the chain."""
    unsigned = Checkpoint(seq=entry.seq, hash=entry.hash, signature="")
    signature = encode_signature(key.sign(unsigned.signed_bytes()))
    return Checkpoint(seq=entry.seq, hash=entry.hash, signature=signature)


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint file atomically (write, fsync, rename).

    A reader sees the old or the new checkpoint, never a torn one. Call it
    after the transaction holding the entry has committed; if the node stops
    in between, the chain is one entry ahead of the checkpoint, which
    ``verify`` accepts (entries past the checkpoint are still signed).
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_checkpoint(path: Path) -> Checkpoint | None:
    """The checkpoint in ``path``, or ``None`` if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return Checkpoint.from_json(text)
