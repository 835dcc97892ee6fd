"""Peer invites: one line carrying a node's name, URL and public key, checked by fingerprint.

Format: ``insitu-peer:v1:<name>@<url>#<public key, URL-safe base64>``. The
owners compare the key fingerprint (16 hex digits) out of band (by phone,
in person) before accepting: the invite itself travels over any channel and
is not secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from insitu.crypto.signing import VerifyKey
from insitu.errors import InvalidInput

if TYPE_CHECKING:
    from insitu.node.federation.records import Peer
    from insitu.node.node import Node

PREFIX = "insitu-peer:v1:"
_INVITE = re.compile(
    r"^insitu-peer:v1:([A-Za-z0-9][A-Za-z0-9_.-]{0,62})@(https?://[^\s#]+)#([A-Za-z0-9_-]{43})$"
)


@dataclass(frozen=True)
class Invite:
    """What one node tells another so the other can register it as a peer."""

    name: str
    url: str
    public_key: str

    @property
    def fingerprint(self) -> str:
        """Compare this out of band with the inviting node's ``insitu node info``."""
        return VerifyKey.from_text(self.public_key).fingerprint()

    def to_text(self) -> str:
        return f"{PREFIX}{self.name}@{self.url.rstrip('/')}#{self.public_key}"


def parse_invite(text: str) -> Invite:
    """Parse an invite line; :class:`InvalidInput` says what is wrong."""
    if not isinstance(text, str):
        raise TypeError("an invite is a string")
    text = text.strip()
    if not text.startswith(PREFIX):
        raise InvalidInput(f"not an insitu peer invite (it must start with {PREFIX!r})")
    match = _INVITE.match(text)
    if not match:
        raise InvalidInput("malformed invite: expected insitu-peer:v1:NAME@URL#PUBLIC_KEY")
    name, url, key = match.groups()
    try:
        VerifyKey.from_text(key)
    except ValueError:
        raise InvalidInput("the invite's public key is not an Ed25519 key") from None
    return Invite(name, url.rstrip("/"), key)


def make_invite(node: Node, *, url: str | None = None) -> str:
    """This node's invite; ``url`` defaults to the ``public_url`` in its settings."""
    url = url or node.settings.public_url
    if not url:
        raise InvalidInput("the node has no public_url in its settings; pass the URL peers use")
    return Invite(node.settings.name, url, node.key.public_key.to_text()).to_text()


def add_peer_from_invite(
    node: Node, invite: str, *, name: str | None = None, by: str = "owner"
) -> Peer:
    """Register the inviting node as a peer (under ``name`` or the name in the invite)."""
    parsed = parse_invite(invite)
    return node.federation.peers.add(
        name or parsed.name, url=parsed.url, public_key=parsed.public_key, by=by
    )


__all__ = ["PREFIX", "Invite", "add_peer_from_invite", "make_invite", "parse_invite"]
