"""Peers from Python (owners): register, invite, suspend, resume and remove other nodes."""

from __future__ import annotations

from typing import Any

from insitu.client.transport import Transport


class Peers:
    """``node.peers``: the owner's register of other nodes this node may work with."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._t.get_json("/v1/peers")
        return out

    def add(self, name: str, *, url: str, public_key: str) -> dict[str, Any]:
        """Register a peer; compare its key fingerprint with its owner out of band first."""
        body = {"name": name, "url": url, "public_key": public_key}
        out: dict[str, Any] = self._t.post_json("/v1/peers", body)
        return out

    def invite(self, *, url: str | None = None) -> str:
        """This node's invite line (``insitu-peer:v1:NAME@URL#KEY``)."""
        out: str = self._t.get_json("/v1/peers/invite", url=url)["invite"]
        return out

    def accept(self, invite: str, *, name: str | None = None) -> dict[str, Any]:
        """Register the node that sent ``invite``."""
        out: dict[str, Any] = self._t.post_json(
            "/v1/peers/accept", {"invite": invite, "name": name}
        )
        return out

    def suspend(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self._t.post_json(f"/v1/peers/{name}/suspend")
        return out

    def resume(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = self._t.post_json(f"/v1/peers/{name}/resume")
        return out

    def remove(self, name: str) -> None:
        self._t.send("DELETE", f"/v1/peers/{name}")


__all__ = ["Peers"]
