"""The owner's register of peers: add, list, suspend, resume, remove; only these are talked to."""

from __future__ import annotations

import logging
import re

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import Forbidden, InvalidInput
from insitu.node.clock import Clock
from insitu.node.federation.records import Peer, PeerStatus
from insitu.node.federation.store import FederationStore
from insitu.node.services.audit_log import AuditLog

log = logging.getLogger("insitu.peers")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_URL = re.compile(r"^(https?)://[^\s/?#@]+(/[^\s?#]*)?$")


def check_peer_url(url: str, *, insecure_peers: bool) -> str:
    """Return ``url`` without a trailing slash; plain HTTP only with ``insecure_peers``.

    Raises
    ------
    InvalidInput
        For anything but ``http(s)://host[:port][/path]``, or ``http://``
        without the explicit opt-in.
    """
    if not isinstance(url, str):
        raise TypeError("url must be a string")
    match = _URL.match(url)
    if not match:
        raise InvalidInput(f"peer URL must be https://host[:port][/path], got {url!r}")
    if match.group(1) == "http":
        if not insecure_peers:
            raise InvalidInput(
                f"peer URL {url!r} is plain HTTP; peers must use https:// "
                "(or start the node with --insecure-peers, for testing only)"
            )
        log.warning("peer %s is reached over plain HTTP (insecure_peers is on)", url)
    return url.rstrip("/")


class Peers:
    """Registered peers of one node. Every change writes an audit entry."""

    def __init__(
        self,
        store: FederationStore,
        audit: AuditLog,
        clock: Clock,
        key: SigningKey,
        *,
        insecure_peers: bool = False,
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._own_key = key.public_key.to_text()
        self.insecure_peers = insecure_peers

    def add(self, name: str, *, url: str, public_key: str, by: str) -> Peer:
        """Register a peer by local name, URL and Ed25519 public key (URL-safe base64)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput("peer name must be 1-63 letters, digits, '_', '.', '-'")
        url = check_peer_url(url, insecure_peers=self.insecure_peers)
        try:
            key = VerifyKey.from_text(public_key)
        except (ValueError, TypeError):
            raise InvalidInput("public_key is not an Ed25519 public key") from None
        if key.to_text() == self._own_key:
            raise InvalidInput("that is this node's own key")
        peer = Peer(
            name, url, key.to_text(), key.fingerprint(), PeerStatus.ACTIVE, self._clock(), by
        )
        with self._store.sql.transaction():
            self._store.add_peer(peer)
            self._audit.record(
                by,
                "peer.added",
                f"peer:{name}",
                {"url": url, "public_key": peer.public_key, "fingerprint": peer.fingerprint},
            )
        return peer

    def all(self) -> list[Peer]:
        return self._store.list_peers()

    def get(self, name: str) -> Peer:
        return self._store.get_peer(name)

    def suspend(self, name: str, *, by: str) -> Peer:
        """Refuse the peer's calls and make none to it, until resumed."""
        return self._set(name, PeerStatus.SUSPENDED, by=by)

    def resume(self, name: str, *, by: str) -> Peer:
        return self._set(name, PeerStatus.ACTIVE, by=by)

    def remove(self, name: str, *, by: str) -> None:
        with self._store.sql.transaction():
            peer = self._store.get_peer(name)
            self._store.delete_peer(name)
            self._audit.record(
                by, "peer.removed", f"peer:{name}", {"fingerprint": peer.fingerprint}
            )

    def _set(self, name: str, status: PeerStatus, *, by: str) -> Peer:
        with self._store.sql.transaction():
            peer = self._store.set_peer_status(name, status)
            self._audit.record(by, f"peer.{status.value}", f"peer:{name}", {})
        return peer

    def active_by_key(self, key_id: str) -> Peer | None:
        """The active peer whose key has fingerprint ``key_id``, else ``None``."""
        peer = self._store.peer_by_fingerprint(key_id)
        return peer if peer is not None and peer.active else None

    def require_active(self, public_key: str, url: str) -> Peer:
        """The active peer with this key; it must also be registered at ``url``.

        Raises
        ------
        Forbidden
            When no active peer has that key, or its registered URL differs.
        """
        try:
            fingerprint = VerifyKey.from_text(public_key).fingerprint()
        except ValueError:
            raise InvalidInput("not an Ed25519 public key") from None
        peer = self.active_by_key(fingerprint)
        if peer is None:
            raise Forbidden(f"no active peer has key {fingerprint}; register it first")
        if peer.url != url.rstrip("/"):
            raise Forbidden(
                f"peer {peer.name!r} is registered at {peer.url}, but the spec names {url}"
            )
        return peer


__all__ = ["Peers", "check_peer_url"]
