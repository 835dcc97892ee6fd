"""Owner and analyst routes for peers and collaborations (bearer-token authenticated)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from insitu.errors import Forbidden, InvalidInput, NotFound
from insitu.federation import blobs
from insitu.federation.job import JobState
from insitu.federation.spec import Role as PartyRole
from insitu.node.api.deps import CurrentOwner, CurrentRequester, NodeDep
from insitu.node.federation.invites import make_invite, parse_invite
from insitu.node.federation.records import Collaboration
from insitu.node.store.records import Member, Role

router = APIRouter(prefix="/v1")

_LIVE = [JobState.PROPOSED, JobState.APPROVED_LOCAL, JobState.READY, JobState.RUNNING]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewPeer(_Strict):
    name: str
    url: str
    public_key: str


class InviteBody(_Strict):
    invite: str
    name: str | None = None


class ReasonBody(_Strict):
    reason: str


def collab_view(c: Collaboration) -> dict[str, Any]:
    """What owners and analysts see of one collaboration at this node."""
    job = c.job
    return {
        "collab_id": c.collab_id,
        "computation": c.spec.computation,
        "spec": c.spec.to_json_value(),
        "spec_hash": job.spec_hash,
        "me": job.me,
        "state": job.state.value,
        "parties": [
            {
                "name": p.name,
                "roles": sorted(r.value for r in p.roles),
                "datasets": list(p.datasets),
                "approved": p.name in job.approved,
            }
            for p in c.spec.parties
        ],
        "waiting_for": [p for p in job.parties if p not in job.approved],
        "ended_by": job.ended_by,
        "reason": job.reason,
        "released": job.released,
        "budget": job.budget.value,
        "result_sha256": job.result_sha256,
        "result_available": c.result is not None,
        "is_result_party": PartyRole.RESULT in c.spec.party(job.me).roles,
        "proposed_by": c.proposed_by,
        "deadline": job.deadline,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }


def _may_see(member: Member, c: Collaboration) -> bool:
    return member.role is Role.OWNER or c.proposed_by == member.name


# -- peers (owner) ------------------------------------------------------------------------
@router.get("/peers")
def list_peers(_: CurrentOwner, node: NodeDep) -> list[dict[str, Any]]:
    return [p.to_dict() for p in node.federation.peers.all()]


@router.post("/peers", status_code=201)
def add_peer(body: NewPeer, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    peer = node.federation.peers.add(
        body.name, url=body.url, public_key=body.public_key, by=owner.name
    )
    return peer.to_dict()


@router.get("/peers/invite")
def invite(_: CurrentOwner, node: NodeDep, url: str | None = None) -> dict[str, Any]:
    text = make_invite(node, url=url)
    return {"invite": text, "fingerprint": node.key.public_key.fingerprint()}


@router.post("/peers/accept", status_code=201)
def accept_invite(body: InviteBody, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    parsed = parse_invite(body.invite)
    peer = node.federation.peers.add(
        body.name or parsed.name, url=parsed.url, public_key=parsed.public_key, by=owner.name
    )
    return peer.to_dict()


@router.get("/peers/{name}")
def get_peer(name: str, _: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    return node.federation.peers.get(name).to_dict()


@router.post("/peers/{name}/suspend")
def suspend_peer(name: str, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    return node.federation.peers.suspend(name, by=owner.name).to_dict()


@router.post("/peers/{name}/resume")
def resume_peer(name: str, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    return node.federation.peers.resume(name, by=owner.name).to_dict()


@router.delete("/peers/{name}", status_code=204)
def remove_peer(name: str, owner: CurrentOwner, node: NodeDep) -> None:
    node.federation.peers.remove(name, by=owner.name)


# -- collaborations ---------------------------------------------------------------------------
@router.post("/collaborations", status_code=201)
def propose(body: dict[str, Any], member: CurrentRequester, node: NodeDep) -> dict[str, Any]:
    return collab_view(node.federation.collaborations.propose(body, by=member.name))


@router.get("/collaborations")
def list_collaborations(
    member: CurrentRequester, node: NodeDep, status: str | None = None
) -> list[dict[str, Any]]:
    states: list[JobState] | None
    if status is None:
        states = None
    elif status == "pending":
        states = [JobState.PROPOSED]
    elif status == "live":
        states = _LIVE
    else:
        try:
            states = [JobState(status)]
        except ValueError:
            raise InvalidInput(
                f"unknown status {status!r}: pending, live or "
                + ", ".join(s.value for s in JobState)
            ) from None
    found = node.federation.collaborations.all(states=states)
    return [collab_view(c) for c in found if _may_see(member, c)]


def _visible(collab_id: str, member: Member, node: NodeDep) -> Collaboration:
    c = node.federation.collaborations.get(collab_id)
    if not _may_see(member, c):
        raise Forbidden("only owners and the proposing analyst see this collaboration")
    return c


@router.get("/collaborations/{collab_id}")
def get_collaboration(collab_id: str, member: CurrentRequester, node: NodeDep) -> dict[str, Any]:
    return collab_view(_visible(collab_id, member, node))


@router.post("/collaborations/{collab_id}/approve")
def approve(collab_id: str, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    return collab_view(node.federation.collaborations.approve(collab_id, by=owner.name))


@router.post("/collaborations/{collab_id}/deny")
def deny(collab_id: str, body: ReasonBody, owner: CurrentOwner, node: NodeDep) -> dict[str, Any]:
    c = node.federation.collaborations.deny(collab_id, reason=body.reason, by=owner.name)
    return collab_view(c)


@router.post("/collaborations/{collab_id}/cancel")
def cancel(
    collab_id: str, body: ReasonBody, member: CurrentRequester, node: NodeDep
) -> dict[str, Any]:
    _visible(collab_id, member, node)
    c = node.federation.collaborations.cancel(collab_id, reason=body.reason, by=member.name)
    return collab_view(c)


@router.get("/collaborations/{collab_id}/result")
def result(collab_id: str, member: CurrentRequester, node: NodeDep) -> dict[str, Any]:
    c = _visible(collab_id, member, node)
    return {
        "collab_id": collab_id,
        "result": node.federation.collaborations.result(collab_id),
        "result_sha256": c.job.result_sha256,
        "spec_hash": c.job.spec_hash,
    }


@router.get("/collaborations/{collab_id}/result/blobs/{digest}")
def result_blob(collab_id: str, digest: str, member: CurrentRequester, node: NodeDep) -> Response:
    """One large binary part of the result (see :mod:`insitu.federation.blobs`), by its hash."""
    _visible(collab_id, member, node)
    result = node.federation.collaborations.result(collab_id)
    if digest not in blobs.refs(result).values():
        raise NotFound(f"the result of {collab_id!r} has no blob {digest[:16]!r}")
    return Response(node.federation.results.get(digest), media_type="application/octet-stream")


__all__ = ["collab_view", "router"]
