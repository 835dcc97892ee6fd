"""The node's metadata tables (SQLAlchemy 2). Changes go through Alembic migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class MemberRow(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    card: Mapped[dict[str, Any]]
    file: Mapped[str] = mapped_column(String(256))
    content_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class RequestRow(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status", "status"),
        Index("ix_requests_requester", "requester"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    requester: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    datasets: Mapped[list[Any]]
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    cost: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    output_checking: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    decided_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(96), nullable=True)
    released_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ResultRow(Base):
    __tablename__ = "results"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    receipt: Mapped[dict[str, Any]]


class PolicyRow(Base):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class BudgetCapRow(Base):
    """A privacy budget cap: on a dataset in total (analyst = "") or per analyst."""

    __tablename__ = "budget_caps"
    __table_args__ = (UniqueConstraint("dataset", "analyst"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    analyst: Mapped[str] = mapped_column(String(64), default="")
    rho: Mapped[float] = mapped_column(Float)
    epsilon: Mapped[float | None] = mapped_column(Float, nullable=True)
    delta: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[datetime]


class LedgerRow(Base):
    """One charge of privacy loss to a dataset on behalf of an analyst."""

    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_dataset", "dataset", "analyst"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    analyst: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(Integer)
    rho: Mapped[float] = mapped_column(Float)
    epsilon: Mapped[float | None] = mapped_column(Float, nullable=True)
    delta: Mapped[float | None] = mapped_column(Float, nullable=True)
    pure: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(96))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))


class AuditHeadRow(Base):
    """Single row locked by every audit append so entries get consecutive numbers."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


# -- federation: peers, replay protection, collaborations, messages -------------------
class PeerRow(Base):
    """Another node the owner registered: its URL and public key."""

    __tablename__ = "peers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(512))
    public_key: Mapped[str] = mapped_column(String(128))
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class PeerNonceRow(Base):
    """A nonce of an accepted signed request, kept until its timestamp goes stale."""

    __tablename__ = "peer_nonces"
    __table_args__ = (Index("ix_peer_nonces_expires", "expires_at"),)

    key_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)


class CollaborationRow(Base):
    """This node's part of a collaboration: the spec, its job state and any result."""

    __tablename__ = "collaborations"
    __table_args__ = (Index("ix_collaborations_state", "state"),)

    collab_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    spec: Mapped[dict[str, Any]]
    spec_hash: Mapped[str] = mapped_column(String(64))
    me: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    job: Mapped[dict[str, Any]]
    proposed_by: Mapped[str] = mapped_column(String(96))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PeerMessageRow(Base):
    """A whole protocol message a peer sent this node (the collaboration inbox).

    Small payloads sit in ``payload``; a large one is a file in the node's data
    directory named by ``file`` (``payload`` is then NULL), see
    :mod:`insitu.node.federation.message_files`.
    """

    __tablename__ = "peer_messages"
    __table_args__ = (UniqueConstraint("collab_id", "sender", "receiver", "msg_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collab_id: Mapped[str] = mapped_column(String(128))
    sender: Mapped[str] = mapped_column(String(64))
    receiver: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    file: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime]


class PeerOutboxRow(Base):
    """A control notice (proposal, decision, cancel, abort) waiting for delivery to a peer."""

    __tablename__ = "peer_outbox"
    __table_args__ = (Index("ix_peer_outbox_pending", "delivered", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collab_id: Mapped[str] = mapped_column(String(128))
    peer: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(300))
    body: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str] = mapped_column(Text, default="")
