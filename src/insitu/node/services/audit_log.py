"""Appends signed, hash-chained entries for every state change and checks them."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from insitu.crypto.signing import SigningKey
from insitu.node import audit as chain
from insitu.node.clock import Clock
from insitu.node.store.base import Store
from insitu.node.store.records import AuditRecord


def _to_entry(record: AuditRecord) -> chain.AuditEntry:
    return chain.AuditEntry(**asdict(record))


def _to_record(entry: chain.AuditEntry) -> AuditRecord:
    return AuditRecord(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        data=dict(entry.data),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
        signature=entry.signature,
    )


class AuditLog:
    """The node's audit log: entries live in the store, a signed checkpoint in a file.

    The checkpoint (newest seq and hash, signed) lets ``verify`` notice
    entries deleted from the end of the chain, which the chain alone cannot.
    """

    def __init__(self, store: Store, key: SigningKey, head_path: Path, clock: Clock) -> None:
        self._store = store
        self._key = key
        self._head_path = head_path
        self._clock = clock
        self._lock = threading.Lock()
        self._checkpoint_seq = -1

    def record(
        self, actor: str, action: str, subject: str, data: dict[str, Any] | None = None
    ) -> AuditRecord:
        """Append one entry; call inside the transaction that makes the change."""
        at = self._clock().isoformat()

        def make(prev: AuditRecord | None) -> AuditRecord:
            entry = chain.append(
                None if prev is None else _to_entry(prev),
                at=at,
                actor=actor,
                action=action,
                subject=subject,
                data=data or {},
                key=self._key,
            )
            return _to_record(entry)

        record = self._store.append_audit(make)
        self._store.after_commit(lambda: self._write_checkpoint(record))
        return record

    def _write_checkpoint(self, record: AuditRecord) -> None:
        with self._lock:
            if record.seq <= self._checkpoint_seq:
                return
            self._checkpoint_seq = record.seq
            chain.write_checkpoint(
                self._head_path, chain.make_checkpoint(_to_entry(record), key=self._key)
            )

    def entries(self) -> list[AuditRecord]:
        return list(self._store.audit_entries())

    def verify(self) -> chain.VerifyReport:
        head = chain.read_checkpoint(self._head_path)
        entries = [_to_entry(r) for r in self.entries()]
        report = chain.verify(entries, self._key.public_key, head=head)
        if head is None and entries:
            missing = chain.Problem(
                seq=entries[-1].seq,
                kind=chain.ProblemKind.TRUNCATED,
                detail=f"the checkpoint file {self._head_path.name} is missing; "
                "entries cut from the end could not be noticed",
            )
            report = dataclasses.replace(report, problems=(*report.problems, missing))
        return report

    def export(self, path: Path) -> int:
        entries = [_to_entry(r) for r in self.entries()]
        chain.export_entries(
            entries,
            path,
            public_key=self._key.public_key,
            checkpoint=chain.read_checkpoint(self._head_path),
        )
        return len(entries)
