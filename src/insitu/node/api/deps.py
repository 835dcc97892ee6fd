"""Request dependencies: the node, the caller, and role checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from insitu.errors import Forbidden
from insitu.node.node import Node
from insitu.node.store.records import Member, Role

# Dependencies are ``async def`` on purpose: they do no blocking work (token
# checks are cached, see ``Members.authenticate``), and a sync dependency costs
# a thread-pool hop per request, which dominated the cost of a status poll.


async def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(get_node)]


async def current_member(request: Request, node: NodeDep) -> Member:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return node.members.authenticate(token.strip() if scheme.lower() == "bearer" else None)


CurrentMember = Annotated[Member, Depends(current_member)]


def _require(*roles: Role):  # type: ignore[no-untyped-def]
    async def check(member: CurrentMember) -> Member:
        if member.role not in roles:
            raise Forbidden(f"this needs the {' or '.join(r.value for r in roles)} role")
        return member

    return check


CurrentOwner = Annotated[Member, Depends(_require(Role.OWNER))]
CurrentAuditReader = Annotated[Member, Depends(_require(Role.OWNER, Role.AUDITOR))]
CurrentRequester = Annotated[Member, Depends(_require(Role.OWNER, Role.ANALYST))]
