"""The federation tables, kept beside the node's :class:`SqlStore` in the same transactions."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from insitu.errors import AlreadyExists, InternalError, NotFound, ProtocolAbort
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
from insitu.node.federation.message_files import INLINE_MAX_BYTES, MessageFiles, file_name
from insitu.node.federation.records import Collaboration, OutboxItem, Peer, PeerStatus
from insitu.node.store.sql import SqlStore

#: Expired nonces are purged at most this often (seconds of the callers' clock).
NONCE_PURGE_SECONDS = 1.0

_COLLABS = cast(Table, CollaborationRow.__table__)
_MESSAGES = cast(Table, PeerMessageRow.__table__)
_NONCES = cast(Table, PeerNonceRow.__table__)
_PEERS = cast(Table, PeerRow.__table__)
# The hot paths of the peer message route, as Core statements compiled once.
_COLLAB_BY_ID = select(*(c for c in _COLLABS.c if c.name != "spec")).where(
    _COLLABS.c.collab_id == bindparam("cid")
)
_SPEC_BY_ID = select(_COLLABS.c.spec).where(_COLLABS.c.collab_id == bindparam("cid"))
#: Parsed specs kept by hash (a spec never changes under its hash).
_SPEC_CACHE_SIZE = 256
_PEER_BY_FINGERPRINT = select(_PEERS).where(_PEERS.c.fingerprint == bindparam("fp"))
_MESSAGE_KEY = (
    (_MESSAGES.c.collab_id == bindparam("collab_id"))
    & (_MESSAGES.c.sender == bindparam("sender"))
    & (_MESSAGES.c.receiver == bindparam("receiver"))
    & (_MESSAGES.c.msg_id == bindparam("msg_id"))
)
_MESSAGE_BY_KEY = select(_MESSAGES.c.payload, _MESSAGES.c.file, _MESSAGES.c.sha256).where(
    _MESSAGE_KEY
)
_PURGE_NONCES = delete(_NONCES).where(_NONCES.c.expires_at < bindparam("now"))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _peer(row: Any) -> Peer:
    """From a ``PeerRow`` or a Core row of its table (same attribute names)."""
    return Peer(
        row.name,
        row.url,
        row.public_key,
        row.fingerprint,
        PeerStatus(row.status),
        _utc(row.created_at),
        row.created_by,
    )


def _key_params(key: MessageKey) -> dict[str, str]:
    collab_id, sender, receiver, msg_id = key
    return {"collab_id": collab_id, "sender": sender, "receiver": receiver, "msg_id": msg_id}


def _collab(row: Any, spec: CollaborationSpec | None = None) -> Collaboration:
    """From a ``CollaborationRow`` or a Core row of its table (same attribute names)."""
    return Collaboration(
        CollaborationSpec.model_validate(row.spec) if spec is None else spec,
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

    def __init__(self, sql: SqlStore, *, message_dir: Path | None = None) -> None:
        self.sql = sql
        self._dialect = sql.engine.dialect.name
        self.files = None if message_dir is None else MessageFiles(message_dir)
        self._specs: dict[str, CollaborationSpec] = {}
        self._specs_lock = threading.Lock()
        self._next_purge = float("-inf")
        dialect = postgresql if self._dialect == "postgresql" else sqlite
        self._insert_ignore_stmt = {
            table.name: dialect.insert(table)
            .on_conflict_do_nothing()
            .returning(next(iter(table.primary_key.columns)))
            for table in (_NONCES, _MESSAGES)
        }

    def _insert_ignore(self, s: Session | Connection, table: Table, values: dict[str, Any]) -> bool:
        """Insert unless the unique key exists; ``True`` if this call inserted the row."""
        stmt = self._insert_ignore_stmt[table.name]
        return s.execute(stmt, values).first() is not None

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
        with self.sql.core() as c:  # every inbound frame asks: one Core statement
            row = c.execute(_PEER_BY_FINGERPRINT, {"fp": fingerprint}).first()
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
        """Insert ``(key_id, nonce)`` unless present. Atomic on its own; joins a transaction.

        Expired nonces are purged at most every :data:`NONCE_PURGE_SECONDS`; one
        not yet purged is still refused, which is safe (its timestamp is stale).
        """
        with self.sql.core(write=True) as c:
            if not self._next_purge - NONCE_PURGE_SECONDS < now < self._next_purge:
                c.execute(_PURGE_NONCES, {"now": now})
                self._next_purge = now + NONCE_PURGE_SECONDS
            values = {"key_id": key_id, "nonce": nonce, "expires_at": expires_at}
            return self._insert_ignore(c, _NONCES, values)

    # -- inbound messages ----------------------------------------------------------
    def put_message(
        self,
        key: MessageKey,
        payload: bytes,
        *,
        at: datetime,
        sha256: bytes | None = None,
        spooled: Path | None = None,
    ) -> bool:
        """Store once; ``False`` for an exact repeat; ``ProtocolAbort`` for other bytes.

        ``sha256`` is the payload's digest when the caller already checked it
        (the reassembler does), else it is computed here. With a message
        directory, a payload over :data:`INLINE_MAX_BYTES` goes to its file
        inside the transaction that inserts its row, so a committed row always
        has its whole file: ``spooled`` (an fsync'd file in that directory
        holding exactly ``payload``) is renamed into place, else the payload is
        written. A ``spooled`` file not adopted is deleted.
        """
        try:
            return self._put_message(key, payload, at=at, sha256=sha256, spooled=spooled)
        finally:
            if spooled is not None:
                spooled.unlink(missing_ok=True)  # adopted files are gone already

    def _put_message(
        self,
        key: MessageKey,
        payload: bytes,
        *,
        at: datetime,
        sha256: bytes | None,
        spooled: Path | None,
    ) -> bool:
        collab_id, sender, receiver, msg_id = key
        digest = (sha256 if sha256 is not None else hashlib.sha256(payload).digest()).hex()
        name = file_name(key) if self.files and len(payload) > INLINE_MAX_BYTES else None
        values = {
            "collab_id": collab_id,
            "sender": sender,
            "receiver": receiver,
            "msg_id": msg_id,
            "sha256": digest,
            "payload": None if name else bytes(payload),
            "file": name,
            "received_at": at,
        }
        with self.sql.core(write=True) as c:
            if self._insert_ignore(c, _MESSAGES, values):
                if name is not None and self.files is not None:
                    if spooled is not None:
                        self.files.adopt(spooled, name)
                    else:
                        self.files.write(name, payload)
                return True
            held = c.execute(_MESSAGE_BY_KEY, _key_params(key)).first()
        if held is None or held.sha256 != digest:
            raise ProtocolAbort(f"message {msg_id!r} from {sender!r} arrived twice, differing")
        return False

    def get_message(self, key: MessageKey) -> bytes | None:
        with self.sql.core() as c:
            row = c.execute(_MESSAGE_BY_KEY, _key_params(key)).first()
        if row is None:
            return None
        if row.file is None:
            return bytes(row.payload)
        if self.files is None:
            raise InternalError("peer message is stored in a file but no message directory is set")
        return self.files.read(row.file, row.sha256)

    def discard_messages(self, collab_id: str) -> int:
        """Delete a collaboration's messages and their files; return how many."""
        with self.sql.core(write=True) as c:
            rows = c.execute(
                delete(_MESSAGES)
                .where(_MESSAGES.c.collab_id == collab_id)
                .returning(_MESSAGES.c.file)
            ).all()
        names = [r.file for r in rows if r.file is not None]
        if names and self.files is not None:
            self.files.delete(names)
        return len(rows)

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
        if not lock:  # every inbound frame asks: Core statements, the spec parsed once
            with self.sql.core() as c:
                found = c.execute(_COLLAB_BY_ID, {"cid": collab_id}).first()
                if found is None:
                    raise NotFound(f"no collaboration {collab_id!r}")
                spec = self._specs.get(found.spec_hash)
                if spec is None or spec.collab_id != collab_id:
                    spec = CollaborationSpec.model_validate(
                        c.execute(_SPEC_BY_ID, {"cid": collab_id}).scalar_one()
                    )
                    with self._specs_lock:
                        while len(self._specs) >= _SPEC_CACHE_SIZE:
                            del self._specs[next(iter(self._specs))]
                        self._specs[found.spec_hash] = spec
            return _collab(found, spec)
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
