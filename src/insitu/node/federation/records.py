"""Records the federation store keeps: peers, this node's collaboration parts, outbox items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from insitu.crypto.signing import VerifyKey
from insitu.federation.job import Job
from insitu.federation.spec import CollaborationSpec


class PeerStatus(StrEnum):
    """An active peer may call this node and be called; a suspended one may do neither."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Peer:
    """Another node, registered by this node's owner under a local name."""

    name: str
    url: str
    public_key: str
    fingerprint: str
    status: PeerStatus
    created_at: datetime
    created_by: str

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey.from_text(self.public_key)

    @property
    def active(self) -> bool:
        return self.status is PeerStatus.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "public_key": self.public_key,
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Collaboration:
    """This node's part of a collaboration: the whole spec, its own job and any result."""

    spec: CollaborationSpec
    job: Job
    proposed_by: str
    result: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def collab_id(self) -> str:
        return self.spec.collab_id


@dataclass(frozen=True)
class OutboxItem:
    """A signed JSON notice to deliver to ``peer`` by POST to ``path``."""

    id: int
    collab_id: str
    peer: str
    path: str
    body: dict[str, Any]
    attempts: int
    expires_at: float


__all__ = ["Collaboration", "OutboxItem", "Peer", "PeerStatus"]
