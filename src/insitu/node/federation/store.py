"""The federation tables, kept beside the node's :class:`SqlStore` in the same transactions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from insitu.errors import AlreadyExists, NotFound, ProtocolAbort
from insitu.federation.job import Job, JobState
from insitu.federation.messages import MessageKey
from insitu.federation.spec import CollaborationSpec
from insitu.node.db.schema import (
    CollaborationRow,
    PeerMessageRow,
    PeerNonceRow,
    PeerOutboxRow,
    PeerRow,
)
from insitu.node.federation.records import Collaboration, OutboxItem, Peer, PeerStatus
from insitu.node.store.sql import SqlStore


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _peer(row: PeerRow) -> Peer:
    return Peer(
        row.name,
        row.url,
        row.public_key,
        row.fingerprint,
        PeerStatus(row.status),
        _utc(row.created_at),
        row.created_by,
    )


def _collab(row: CollaborationRow) -> Collaboration:
    return Collaboration(
        CollaborationSpec.model_validate(row.spec),
        Job.from_dict(dict(row.job)),
        row.proposed_by,
        None if row.result is None else dict(row.result),
        _utc(row.created_at),
        _utc(row.updated_at),
    )


class FederationStore:
    """Peers, seen nonces, collaborations, inbound messages and the outbox.

    Calls inside ``sql.transaction()`` join that transaction, so a job's new
    state and its audit entry commit together. :meth:`check_nonce` and
    :meth:`put_message` are atomic on their own (insert-or-nothing on a unique
    key), also across processes sharing one PostgreSQL database.
    """

    def __init__(self, sql: SqlStore) -> None:
        self.sql = sql
        self._dialect = sql.engine.dialect.name

    def _insert_ignore(self, s: Session, table: Any, values: dict[str, Any]) -> bool:
        """Insert unless the unique key exists; ``True`` if this call inserted the row."""
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        first = next(iter(table.primary_key.columns))
        stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(first)
        return s.execute(stmt).first() is not None

    # -- peers ----------------------------------------------------------------
    def add_peer(self, peer: Peer) -> None:
        """MUST raise ``AlreadyExists`` for a taken name or an already registered key."""
        with self.sql.session(write=True) as s:
            for column, value, what in (
                (PeerRow.name, peer.name, f"a peer called {peer.name!r}"),
                (PeerRow.fingerprint, peer.fingerprint, "a peer with this public key"),
            ):
                if s.scalar(select(PeerRow).where(column == value)) is not None:
                    raise AlreadyExists(f"{what} is already registered")
            s.add(
                PeerRow(
                    name=peer.name,
                    url=peer.url,
                    public_key=peer.public_key,
                    fingerprint=peer.fingerprint,
                    status=peer.status.value,
                    created_at=peer.created_at,
                    created_by=peer.created_by,
                )
            )

    def _peer_row(self, s: Session, name: str) -> PeerRow:
        row = s.scalar(select(PeerRow).where(PeerRow.name == name))
        if row is None:
            raise NotFound(f"no peer called {name!r}")
        return row

    def get_peer(self, name: str) -> Peer:
        with self.sql.session() as s:
            return _peer(self._peer_row(s, name))

    def peer_by_fingerprint(self, fingerprint: str) -> Peer | None:
        with self.sql.session() as s:
            row = s.scalar(select(PeerRow).where(PeerRow.fingerprint == fingerprint))
            return None if row is None else _peer(row)

    def list_peers(self) -> list[Peer]:
        with self.sql.session() as s:
            return [_peer(r) for r in s.scalars(select(PeerRow).order_by(PeerRow.name))]

    def set_peer_status(self, name: str, status: PeerStatus) -> Peer:
        with self.sql.session(write=True) as s:
            row = self._peer_row(s, name)
            row.status = status.value
            return _peer(row)

    def delete_peer(self, name: str) -> None:
        with self.sql.session(write=True) as s:
            s.delete(self._peer_row(s, name))

    # -- replay protection ------------------------------------------------------
    def check_nonce(self, key_id: str, nonce: str, *, expires_at: float, now: float) -> bool:
        """Insert ``(key_id, nonce)`` unless present; purge expired ones. Own transaction."""
        with self.sql.session(write=True) as s:
            s.execute(delete(PeerNonceRow).where(PeerNonceRow.expires_at < now))
            values = {"key_id": key_id, "nonce": nonce, "expires_at": expires_at}
            return self._insert_ignore(s, PeerNonceRow.__table__, values)

    # -- inbound messages ----------------------------------------------------------
    def put_message(self, key: MessageKey, payload: bytes, *, at: datetime) -> bool:
        """Store once; ``False`` for an exact repeat; ``ProtocolAbort`` for other bytes."""
        collab_id, sender, receiver, msg_id = key
        digest = hashlib.sha256(payload).hexdigest()
        values = {
            "collab_id": collab_id,
            "sender": sender,
            "receiver": receiver,
            "msg_id": msg_id,
            "sha256": digest,
            "payload": bytes(payload),
            "received_at": at,
        }
        with self.sql.session(write=True) as s:
            if self._insert_ignore(s, PeerMessageRow.__table__, values):
                return True
            held = s.scalar(select(PeerMessageRow.sha256).where(*self._where(key)))
        if held != digest:
            raise ProtocolAbort(f"message {msg_id!r} from {sender!r} arrived twice, differing")
        return False

    @staticmethod
    def _where(key: MessageKey) -> tuple[Any, ...]:
        collab_id, sender, receiver, msg_id = key
        return (
            PeerMessageRow.collab_id == collab_id,
            PeerMessageRow.sender == sender,
            PeerMessageRow.receiver == receiver,
            PeerMessageRow.msg_id == msg_id,
        )

    def get_message(self, key: MessageKey) -> bytes | None:
        with self.sql.session() as s:
            payload = s.scalar(select(PeerMessageRow.payload).where(*self._where(key)))
            return None if payload is None else bytes(payload)

    def discard_messages(self, collab_id: str) -> int:
        with self.sql.session(write=True) as s:
            result = s.execute(delete(PeerMessageRow).where(PeerMessageRow.collab_id == collab_id))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- collaborations --------------------------------------------------------------
    def add_collab(
        self, spec: CollaborationSpec, job: Job, *, proposed_by: str, at: datetime
    ) -> None:
        """MUST raise ``AlreadyExists`` for a known collaboration id."""
        with self.sql.session(write=True) as s:
            if s.get(CollaborationRow, spec.collab_id) is not None:
                raise AlreadyExists(f"collaboration {spec.collab_id!r} already exists")
            s.add(
                CollaborationRow(
                    collab_id=spec.collab_id,
                    spec=spec.to_json_value(),
                    spec_hash=spec.spec_hash(),
                    me=job.me,
                    state=job.state.value,
                    job=job.to_dict(),
                    proposed_by=proposed_by,
                    result=None,
                    created_at=at,
                    updated_at=at,
                )
            )

    def get_collab(self, collab_id: str, *, lock: bool = False) -> Collaboration:
        """MUST raise ``NotFound``; ``lock`` holds the row until the transaction ends."""
        with self.sql.session(write=lock) as s:
            q = select(CollaborationRow).where(CollaborationRow.collab_id == collab_id)
            if lock and self._dialect == "postgresql":
                q = q.with_for_update()
            row = s.scalar(q)
            if row is None:
                raise NotFound(f"no collaboration {collab_id!r}")
            return _collab(row)

    def find_collab(self, collab_id: str) -> Collaboration | None:
        try:
            return self.get_collab(collab_id)
        except NotFound:
            return None

    def list_collabs(self, *, states: Sequence[JobState] | None = None) -> list[Collaboration]:
        with self.sql.session() as s:
            q = select(CollaborationRow).order_by(CollaborationRow.created_at)
            if states is not None:
                q = q.where(CollaborationRow.state.in_([st.value for st in states]))
            return [_collab(r) for r in s.scalars(q)]

    def save_job(self, job: Job, *, at: datetime, result: dict[str, Any] | None = None) -> None:
        """Store ``job`` (and ``result`` when given) for its collaboration."""
        values: dict[str, Any] = {"job": job.to_dict(), "state": job.state.value, "updated_at": at}
        if result is not None:
            values["result"] = result
        with self.sql.session(write=True) as s:
            s.execute(
                update(CollaborationRow)
                .where(CollaborationRow.collab_id == job.collab_id)
                .values(**values)
            )

    # -- outbox -------------------------------------------------------------------------
    def enqueue(
        self,
        collab_id: str,
        peer: str,
        path: str,
        body: dict[str, Any],
        *,
        now: float,
        expires_at: float,
    ) -> None:
        with self.sql.session(write=True) as s:
            s.add(
                PeerOutboxRow(
                    collab_id=collab_id,
                    peer=peer,
                    path=path,
                    body=body,
                    attempts=0,
                    next_at=now,
                    expires_at=expires_at,
                    delivered=False,
                    last_error="",
                )
            )

    def due(self, *, now: float, limit: int = 50) -> list[OutboxItem]:
        with self.sql.session() as s:
            rows = s.scalars(
                select(PeerOutboxRow)
                .where(PeerOutboxRow.delivered.is_(False), PeerOutboxRow.next_at <= now)
                .order_by(PeerOutboxRow.id)
                .limit(limit)
            )
            return [
                OutboxItem(
                    r.id, r.collab_id, r.peer, r.path, dict(r.body), r.attempts, r.expires_at
                )
                for r in rows
            ]

    def settle(self, item_id: int, *, delivered: bool, error: str = "", next_at: float = 0) -> None:
        """Mark an item delivered (or given up: ``delivered`` with an error), or retry later."""
        with self.sql.session(write=True) as s:
            s.execute(
                update(PeerOutboxRow)
                .where(PeerOutboxRow.id == item_id)
                .values(
                    delivered=delivered,
                    last_error=error[:2000],
                    next_at=next_at,
                    attempts=PeerOutboxRow.attempts + 1,
                )
            )

    def pending_notices(self, collab_id: str) -> int:
        with self.sql.session() as s:
            rows = s.scalars(
                select(PeerOutboxRow.id).where(
                    PeerOutboxRow.collab_id == collab_id, PeerOutboxRow.delivered.is_(False)
                )
            )
            return len(list(rows))


__all__ = ["FederationStore"]
