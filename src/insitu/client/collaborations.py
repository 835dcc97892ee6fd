"""Collaborations from Python: propose a multi-party job, watch each party, fetch the result."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from insitu.client.transport import Transport
from insitu.errors import InvalidInput, Unavailable
from insitu.federation import blobs as _blobs
from insitu.federation.spec import CollaborationSpec

#: States after which nothing changes any more.
TERMINAL = frozenset({"done", "failed", "cancelled", "timed_out", "denied"})


class Collaboration:
    """This node's view of one collaboration (a snapshot; :meth:`refresh` re-reads it)."""

    def __init__(self, api: Collaborations, data: Mapping[str, Any]) -> None:
        self._api = api
        self.data = dict(data)

    def __repr__(self) -> str:
        return f"<collaboration {self.id} {self.state}>"

    @property
    def id(self) -> str:
        return str(self.data["collab_id"])

    @property
    def state(self) -> str:
        """``proposed``, ``approved_local``, ``ready``, ``running``, or a terminal state."""
        return str(self.data["state"])

    @property
    def reason(self) -> str | None:
        """Why it ended (denial, cancel, failure, timeout), if it did."""
        value = self.data.get("reason")
        return None if value is None else str(value)

    @property
    def parties(self) -> dict[str, bool]:
        """Each party's name and whether this node has seen its approval."""
        return {p["name"]: bool(p["approved"]) for p in self.data["parties"]}

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def refresh(self) -> Collaboration:
        return self._api.get(self.id)

    def wait(self, *, timeout: float = 120.0, poll: float = 0.2) -> Collaboration:
        return self._api.wait(self.id, timeout=timeout, poll=poll)

    def result(self, *, blobs: bool = True) -> dict[str, Any]:
        return self._api.result(self.id, blobs=blobs)


class Collaborations:
    """``node.collaborations``: propose, list, approve or deny this node's part, cancel, result."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def propose(self, spec: CollaborationSpec | Mapping[str, Any]) -> Collaboration:
        """Propose ``spec``; this node sends it to every party for approval.

        ``spec`` is a :class:`~insitu.federation.spec.CollaborationSpec` or
        the same as a mapping (checked here first, so mistakes show at once).
        """
        if isinstance(spec, CollaborationSpec):
            body = spec.to_json_value()
        elif isinstance(spec, Mapping):
            body = CollaborationSpec.parse(dict(spec)).to_json_value()
        else:
            raise TypeError("spec must be a CollaborationSpec or a mapping")
        return Collaboration(self, self._t.post_json("/v1/collaborations", body))

    def list(self, *, status: str | None = None) -> list[Collaboration]:
        """Collaborations at this node; ``status="pending"`` lists parts awaiting approval."""
        return [
            Collaboration(self, d) for d in self._t.get_json("/v1/collaborations", status=status)
        ]

    def get(self, collab_id: str) -> Collaboration:
        return Collaboration(self, self._t.get_json(f"/v1/collaborations/{_id(collab_id)}"))

    def approve(self, collab_id: str) -> Collaboration:
        """Owners: approve this node's part."""
        path = f"/v1/collaborations/{_id(collab_id)}/approve"
        return Collaboration(self, self._t.post_json(path))

    def deny(self, collab_id: str, *, reason: str) -> Collaboration:
        """Owners: refuse this node's part; every party sees ``reason``."""
        path = f"/v1/collaborations/{_id(collab_id)}/deny"
        return Collaboration(self, self._t.post_json(path, {"reason": reason}))

    def cancel(self, collab_id: str, *, reason: str = "cancelled") -> Collaboration:
        """End a live collaboration for every party (owners, or the proposing analyst)."""
        path = f"/v1/collaborations/{_id(collab_id)}/cancel"
        return Collaboration(self, self._t.post_json(path, {"reason": reason}))

    def result(self, collab_id: str, *, blobs: bool = True) -> dict[str, Any]:
        """The output, at a result party, once the collaboration is done.

        Large binary values (a secure vector sum's ``sum``) are kept beside the
        result's JSON; with ``blobs`` they are fetched and checked against
        their hash, so the value is ``bytes``; without, the value is the
        reference ``{"blob": sha256, "bytes": size}``.
        """
        path = f"/v1/collaborations/{_id(collab_id)}/result"
        out: dict[str, Any] = self._t.get_json(path)["result"]
        if not blobs:
            return out
        return _blobs.internalise(
            out, lambda digest: self._t.send("GET", f"{path}/blobs/{_id(digest)}").content
        )

    def wait(self, collab_id: str, *, timeout: float = 120.0, poll: float = 0.2) -> Collaboration:
        """Poll until the collaboration ends; :class:`Unavailable` after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while True:
            c = self.get(collab_id)
            if c.finished:
                return c
            if time.monotonic() >= end:
                raise Unavailable(f"collaboration {collab_id!r} still {c.state} after {timeout} s")
            time.sleep(poll)


def _id(collab_id: str) -> str:
    if not isinstance(collab_id, str) or not collab_id or "/" in collab_id:
        raise InvalidInput("a collaboration id is a non-empty string without '/'")
    return collab_id


__all__ = ["TERMINAL", "Collaboration", "Collaborations"]
