"""Plain records the store hands to services (no ORM objects leave the store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a member may do: owners manage, analysts ask, auditors read the audit log."""

    OWNER = "owner"
    ANALYST = "analyst"
    AUDITOR = "auditor"


class Status(StrEnum):
    """One lifecycle for every request."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    RELEASED = "released"

    @property
    def final(self) -> bool:
        return self in (Status.DENIED, Status.FAILED, Status.RELEASED)


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    role: Role
    created_at: datetime
    disabled: bool = False


@dataclass(frozen=True)
class TokenInfo:
    id: int
    member: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Dataset:
    name: str
    card: dict[str, Any]
    file: str
    content_hash: str
    rows: int
    size: int
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class NewRequest:
    kind: str
    requester: str
    datasets: list[str]
    payload: dict[str, Any]
    payload_hash: str
    description: str = ""
    cost: dict[str, Any] | None = None


@dataclass(frozen=True)
class Request:
    id: int
    kind: str
    requester: str
    description: str
    datasets: list[str]
    payload: dict[str, Any]
    payload_hash: str
    cost: dict[str, Any] | None
    status: Status
    reason: str
    output_checking: bool
    created_at: datetime
    updated_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    released_by: str | None
    released_at: datetime | None
    attempts: int


@dataclass(frozen=True)
class Result:
    request_id: int
    content_hash: str
    media_type: str
    size: int
    created_at: datetime
    receipt: dict[str, Any]


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    rule: dict[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class BudgetCap:
    dataset: str
    analyst: str  # "" for the dataset's total cap
    rho: float
    epsilon: float | None
    delta: float | None
    updated_at: datetime


@dataclass(frozen=True)
class Charge:
    dataset: str
    analyst: str
    request_id: int
    rho: float
    at: datetime
    epsilon: float | None = None
    delta: float | None = None
    pure: bool = False


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""
    signature: str = ""
