"""Export an audit chain to JSON Lines that an outsider can check with the public key.

Format (``insitu-audit`` version 1): the first line is a header object
``{"format": "insitu-audit", "version": 1, "public_key": <text>, "count": n,
"checkpoint": <checkpoint or null>}``; each following line is one entry's
:meth:`~insitu.node.audit.AuditEntry.to_dict` as canonical JSON, oldest
first.

A header key proves only that the file is internally consistent: whoever
wrote the file chose the key. An auditor should pass the node's key, obtained
separately (peer registry, fingerprint read over the phone), as
``verify_export(path, public_key=...)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from insitu.crypto.hashing import canonical_json
from insitu.crypto.signing import VerifyKey
from insitu.errors import InvalidInput
from insitu.node.audit.checkpoint import Checkpoint
from insitu.node.audit.entry import AuditEntry
from insitu.node.audit.verify import Problem, ProblemKind, VerifyReport, verify

EXPORT_FORMAT = "insitu-audit"
EXPORT_VERSION = 1


@dataclass(frozen=True)
class AuditExport:
    """A loaded export: the key named in its header, its entries, its checkpoint."""

    public_key: VerifyKey
    entries: tuple[AuditEntry, ...]
    checkpoint: Checkpoint | None


def export_entries(
    entries: Iterable[AuditEntry],
    path: Path,
    *,
    public_key: VerifyKey,
    checkpoint: Checkpoint | None = None,
) -> int:
    """Write ``entries`` (oldest first) to ``path`` as JSON Lines; return how many.

    Pass the node's current ``checkpoint`` so that a reader can tell the
    export was not cut short.
    """
    items = list(entries)
    header = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "public_key": public_key.to_text(),
        "count": len(items),
        "checkpoint": None if checkpoint is None else checkpoint.to_dict(),
    }
    with open(path, "wb") as out:
        out.write(canonical_json(header) + b"\n")
        for entry in items:
            out.write(canonical_json(entry.to_dict()) + b"\n")
    return len(items)


def load_export(path: Path) -> AuditExport:
    """Read an export written by :func:`export_entries`.

    Raises
    ------
    InvalidInput
        The header is missing or of another format, or a line is not an
        entry (the message names the line number).
    """
    with open(path, encoding="utf-8") as handle:
        lines = [line for line in handle.read().split("\n") if line.strip()]
    if not lines:
        raise InvalidInput("the export is empty: no header line")
    header = _parse_line(lines[0], 1)
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise InvalidInput(f"line 1 is not an {EXPORT_FORMAT} header")
    if header.get("version") != EXPORT_VERSION:
        raise InvalidInput(f"unsupported {EXPORT_FORMAT} version {header.get('version')!r}")
    key_text = header.get("public_key")
    if not isinstance(key_text, str):
        raise InvalidInput("the header has no public key")
    try:
        key = VerifyKey.from_text(key_text)
    except ValueError:
        raise InvalidInput("the header's public key is not an Ed25519 key") from None
    raw_checkpoint = header.get("checkpoint")
    checkpoint = None if raw_checkpoint is None else Checkpoint.from_dict(raw_checkpoint)
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            entries.append(AuditEntry.from_dict(_parse_line(line, number)))
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc.message}") from None
    return AuditExport(public_key=key, entries=tuple(entries), checkpoint=checkpoint)


def verify_export(path: Path, *, public_key: VerifyKey | None = None) -> VerifyReport:
    """Check an export with nothing but a public key.

    Parameters
    ----------
    public_key:
        The node's key as known to the checker. If omitted, the header's key
        is used, which shows only that the file is consistent with itself. If
        given and different from the header's, every entry fails.

    Raises
    ------
    InvalidInput
        The file is not a readable export (see :func:`load_export`).
    """
    export = load_export(path)
    key = export.public_key if public_key is None else public_key
    report = verify(export.entries, key, head=export.checkpoint)
    if public_key is not None and public_key.raw() != export.public_key.raw():
        mismatch = Problem(-1, ProblemKind.WRONG_KEY, "export names another public key")
        return VerifyReport(
            problems=(mismatch, *report.problems),
            checked=report.checked,
            newest_seq=report.newest_seq,
            checkpoint_seq=report.checkpoint_seq,
        )
    return report


def entries_for(entries: Iterable[AuditEntry], subject: str) -> list[AuditEntry]:
    """The entries about ``subject`` (e.g. ``collaboration:<spec hash>``), in order.

    Two parties compare a collaboration by exporting their chains and
    comparing ``entries_for`` on each, after verifying each against its
    owner's key.
    """
    return [e for e in entries if e.subject == subject]


def _parse_line(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise InvalidInput(f"line {number} is not JSON") from None
