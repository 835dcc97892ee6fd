"""JSON shapes of records, shared by the routes."""

from __future__ import annotations

from typing import Any

from insitu.node.clock import iso
from insitu.node.store.records import Dataset, Member, Policy, Role, TokenInfo


def member_view(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "role": m.role.value,
        "created_at": iso(m.created_at),
        "disabled": m.disabled,
    }


def token_view(t: TokenInfo) -> dict[str, Any]:
    return {
        "id": t.id,
        "member": t.member,
        "label": t.label,
        "created_at": iso(t.created_at),
        "expires_at": iso(t.expires_at),
        "revoked_at": iso(t.revoked_at),
    }


def dataset_view(d: Dataset, viewer: Member) -> dict[str, Any]:
    """Analysts see the public card; the row count and file hash are for owners."""
    view: dict[str, Any] = {"name": d.name, "card": d.card, "created_at": iso(d.created_at)}
    if viewer.role is Role.OWNER:
        view.update(rows=d.rows, size=d.size, content_hash=d.content_hash, created_by=d.created_by)
    return view


def policy_view(p: Policy) -> dict[str, Any]:
    return {
        "name": p.name,
        "rule": p.rule,
        "created_at": iso(p.created_at),
        "created_by": p.created_by,
    }
