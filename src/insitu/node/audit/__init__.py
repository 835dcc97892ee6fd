"""Tamper-evident audit log: hash-chained entries signed by the node key.

Pure core, no database: the node stores :class:`AuditEntry` rows, writes a
signed :class:`Checkpoint` file after every append, and calls :func:`verify`.
See ``docs/audit.md`` for what is detected and what is not.
"""

from insitu.node.audit.checkpoint import (
    CHECKPOINT_DOMAIN,
    Checkpoint,
    make_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from insitu.node.audit.entry import ENTRY_DOMAIN, GENESIS_HASH, AuditEntry, append
from insitu.node.audit.export import (
    AuditExport,
    entries_for,
    export_entries,
    load_export,
    verify_export,
)
from insitu.node.audit.verify import Problem, ProblemKind, VerifyReport, verify

__all__ = [
    "CHECKPOINT_DOMAIN",
    "ENTRY_DOMAIN",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditExport",
    "Checkpoint",
    "Problem",
    "ProblemKind",
    "VerifyReport",
    "append",
    "entries_for",
    "export_entries",
    "load_export",
    "make_checkpoint",
    "read_checkpoint",
    "verify",
    "verify_export",
    "write_checkpoint",
]
