"""Joint audit: show from two parties' audit exports that they ran one spec on one transcript.

Each party records, under subject ``collaboration:<spec hash>``, the
collaboration id and spec hash in every entry, each approval, the SHA-256 of
every protocol message it sent (``collab.message_sent``: to whom, message id)
and received
(``collab.message_received``: from whom, message id), and the outcome.
:func:`compare_transcripts` pairs A's sent messages to B with B's received
messages from A (and the reverse) and lists every difference. Verify each
export against its owner's public key first
(:func:`insitu.node.audit.verify_export`); this comparison trusts the entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insitu.errors import InvalidInput
from insitu.node.audit import AuditEntry
from insitu.node.audit.export import AuditExport, load_export

_END = {
    "collab.done": "done",
    "collab.failed": "failed",
    "collab.denied": "denied",
    "collab.cancelled": "cancelled",
    "collab.timed_out": "timed_out",
}

Source = Path | str | AuditExport | Iterable[Mapping[str, Any]] | Iterable[AuditEntry]


@dataclass
class Transcript:
    """One party's record of one collaboration, read from its audit entries."""

    collab_id: str
    me: str | None = None
    spec_hashes: set[str] = field(default_factory=set)
    approvals: set[str] = field(default_factory=set)
    sent: dict[tuple[str, str], str] = field(default_factory=dict)
    received: dict[tuple[str, str], str] = field(default_factory=dict)
    outcome: str | None = None


@dataclass(frozen=True)
class TranscriptComparison:
    """What two parties' transcripts of one collaboration agree and disagree on."""

    collab_id: str
    parties: tuple[str | None, str | None]
    spec_hash: str | None
    matched_messages: int
    outcomes: tuple[str | None, str | None]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Same spec, and every message one sent the other received with the same hash."""
        return not self.problems


def _rows(source: Source) -> list[Mapping[str, Any]]:
    if isinstance(source, str | Path):
        source = load_export(Path(source))
    if isinstance(source, AuditExport):
        return [e.to_dict() for e in source.entries]
    out: list[Mapping[str, Any]] = []
    for item in source:
        out.append(item.to_dict() if isinstance(item, AuditEntry) else item)
    return out


def read_transcript(source: Source, collab_id: str) -> Transcript:
    """One party's transcript of ``collab_id`` from its export (path, export or entries)."""
    t = Transcript(collab_id)
    for row in _rows(source):
        data = row.get("data") or {}
        if not str(row.get("subject", "")).startswith("collaboration:"):
            continue
        if data.get("collab_id") != collab_id:
            continue
        action = str(row.get("action"))
        if "spec_hash" in data:
            t.spec_hashes.add(str(data["spec_hash"]))
        if "me" in data:
            t.me = str(data["me"])
        if action == "collab.approved" or action == "collab.peer_approved":
            t.approvals.add(str(data.get("party")))
        elif action == "collab.message_sent":
            t.sent[(str(data["party"]), str(data["msg_id"]))] = str(data["sha256"])
        elif action == "collab.message_received":
            t.received[(str(data["party"]), str(data["msg_id"]))] = str(data["sha256"])
        if action in _END:
            t.outcome = _END[action]
    if not t.spec_hashes:
        raise InvalidInput(f"the export has no entries about collaboration {collab_id!r}")
    return t


def _one_way(src: Transcript, dst: Transcript, problems: list[str]) -> int:
    matched = 0
    sent = {msg: h for (to, msg), h in src.sent.items() if to == dst.me}
    got = {msg: h for (frm, msg), h in dst.received.items() if frm == src.me}
    for msg in sorted(sent.keys() | got.keys()):
        if msg not in got:
            problems.append(f"{src.me} sent {msg!r} to {dst.me}, who records no such message")
        elif msg not in sent:
            problems.append(f"{dst.me} records {msg!r} from {src.me}, who never sent it")
        elif sent[msg] != got[msg]:
            problems.append(f"message {msg!r} from {src.me} to {dst.me} differs in hash")
        else:
            matched += 1
    return matched


def compare_transcripts(
    export_a: Source, export_b: Source, *, collab_id: str
) -> TranscriptComparison:
    """Compare two parties' records of ``collab_id``.

    Parameters
    ----------
    export_a, export_b:
        Each party's audit export (a path written by ``AuditLog.export``, a
        loaded :class:`AuditExport`, or its entries as dicts).

    Returns
    -------
    TranscriptComparison
        ``ok`` when both name one spec hash (and only one) and every message
        between them was recorded by sender and receiver with equal hashes.
    """
    a = read_transcript(export_a, collab_id)
    b = read_transcript(export_b, collab_id)
    problems: list[str] = []
    for t in (a, b):
        if len(t.spec_hashes) != 1:
            problems.append(f"{t.me} records {len(t.spec_hashes)} spec hashes")
    if a.spec_hashes != b.spec_hashes:
        problems.append("the parties record different spec hashes")
    if a.me == b.me:
        problems.append("both exports come from the same party")
    matched = _one_way(a, b, problems) + _one_way(b, a, problems)
    spec_hash = next(iter(a.spec_hashes)) if a.spec_hashes == b.spec_hashes else None
    return TranscriptComparison(
        collab_id, (a.me, b.me), spec_hash, matched, (a.outcome, b.outcome), tuple(problems)
    )


__all__ = ["Transcript", "TranscriptComparison", "compare_transcripts", "read_transcript"]
