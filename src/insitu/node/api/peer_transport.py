"""Node-to-node routes under ``/peer/v1``: authenticated by Ed25519 request signature, not token.

Every call must be signed by an active registered peer
(:mod:`insitu.federation.signing`); any refusal answers 401 with one opaque
body and logs the precise reason here. A well-signed protocol frame that is
malformed, oversized or inconsistent answers 409 and fails this node's part
of the collaboration, telling every party why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from starlette.routing import Route

from insitu.errors import InvalidInput, PayloadTooLarge, ProtocolAbort, SecurityError
from insitu.federation.inbound import MESSAGES_PATH
from insitu.node.api.deps import NodeDep
from insitu.node.federation.collaborations import Collaborations
from insitu.node.federation.notices import EVENTS_PATH, PROPOSE_PATH
from insitu.node.federation.records import Collaboration, Peer
from insitu.node.federation.service import Federation
from insitu.node.node import Node

log = logging.getLogger("insitu.peers")
router = APIRouter()

#: Largest JSON control body accepted (a spec with many parties fits easily).
MAX_CONTROL_BYTES = 1 << 20


def _target(request: Request) -> str:
    path: str = request.scope["raw_path"].decode("latin-1")
    query: bytes = request.scope.get("query_string", b"")
    return path + ("?" + query.decode("latin-1") if query else "")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
    return b"".join(parts)  # one copy


def _refused(exc: SecurityError) -> Response:
    log.warning(
        "refused peer call: %s (key %s)", getattr(exc, "reason", "?"), getattr(exc, "key_id", None)
    )
    return JSONResponse({"error": SecurityError("request refused").to_dict()}, status_code=401)


def _state(c: Collaboration) -> dict[str, Any]:
    return {"collab_id": c.collab_id, "state": c.job.state.value, "spec_hash": c.job.spec_hash}


Act = Callable[[Collaborations, dict[str, Any], Peer], Collaboration]


async def _control(request: Request, federation: Federation, act: Act) -> Response:
    try:
        body = await _body(request, MAX_CONTROL_BYTES)
    except PayloadTooLarge as exc:
        return JSONResponse({"error": exc.to_dict()}, status_code=413)
    try:
        peer = await run_in_threadpool(
            federation.verify_control,
            headers=dict(request.headers),
            method=request.method,
            path=_target(request),
            body=body,
        )
    except SecurityError as exc:
        return _refused(exc)
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInput("body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object")
    result: Collaboration = await run_in_threadpool(act, federation.collaborations, data, peer)
    return JSONResponse(_state(result))


@router.post(PROPOSE_PATH)
async def receive_proposal(request: Request, node: NodeDep) -> Response:
    def act(collabs: Collaborations, data: dict[str, Any], peer: Peer) -> Collaboration:
        return collabs.receive_proposal(data, signer=peer)

    return await _control(request, node.federation, act)


@router.post(EVENTS_PATH)
async def receive_event(collab_id: str, request: Request, node: NodeDep) -> Response:
    def act(collabs: Collaborations, data: dict[str, Any], peer: Peer) -> Collaboration:
        return collabs.receive_event(collab_id, data, signer=peer)

    return await _control(request, node.federation, act)


async def receive_frame(request: Request) -> Response:
    """``POST`` one protocol frame: 204 once stored, 401 refused, 409 protocol violation."""
    node: Node = request.app.state.node
    collab_id: str = request.path_params["collab_id"]
    federation = node.federation
    limit = federation.reassembler.max_message_bytes + 4096
    try:
        body = await _body(request, limit)
    except PayloadTooLarge as exc:  # not yet authenticated: refuse, abort nothing
        return JSONResponse({"error": exc.to_dict()}, status_code=413)
    try:
        await run_in_threadpool(
            federation.accept_frame,
            collab_id,
            headers=dict(request.headers),
            method=request.method,
            path=_target(request),
            body=body,
        )
    except SecurityError as exc:
        return _refused(exc)
    except ProtocolAbort as exc:
        reason = f"refused a protocol message: {exc.message}"
        log.warning("collaboration %s: %s", collab_id, reason)
        await run_in_threadpool(federation.collaborations.abort, collab_id, reason=reason)
        return JSONResponse({"error": exc.to_dict()}, status_code=409)
    return Response(status_code=204)


#: The busiest route, as a plain Starlette route: every protocol message passes here, and
#: it needs none of FastAPI's parameter parsing, dependencies or response models.
frame_route = Route(MESSAGES_PATH, receive_frame, methods=["POST"], name="receive_frame")

__all__ = ["MAX_CONTROL_BYTES", "frame_route", "router"]
