"""The receiving side of peer messages: verify the signature, check routing, reassemble, store.

The node's route ``POST /peer/v1/collaborations/{collab_id}/messages`` hands the
raw request to :meth:`PeerInbound.handle` and maps its errors to HTTP status:
:class:`~insitu.errors.SecurityError` → 401 (one opaque body, log ``reason``),
:class:`~insitu.errors.ProtocolAbort` → 409 (the sender must not retry), success → 204.
Everything else is a server error, which the sender retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

from insitu.crypto.signing import VerifyKey
from insitu.errors import ProtocolAbort
from insitu.federation.inbox import Inbox
from insitu.federation.messages import Envelope, Reassembler
from insitu.federation.nonces import NonceStore
from insitu.federation.signing import DEFAULT_MAX_SKEW_SECONDS, verify_request

MESSAGES_PATH = "/peer/v1/collaborations/{collab_id}/messages"


def messages_path(collab_id: str) -> str:
    """The path a peer POSTs a collaboration's frames to."""
    return MESSAGES_PATH.format(collab_id=quote(collab_id, safe=""))


class PeerInbound:
    """Accepts signed frames for the collaborations this node takes part in.

    Parameters
    ----------
    me:
        This node's party name; frames addressed to anyone else are refused.
    party_keys:
        ``party_keys(collab_id)`` returns the collaboration's parties and their
        public keys (from the approved spec), or ``None`` if this node has no
        such collaboration (or does not accept messages for it now).
    nonces, inbox, reassembler:
        Replay store, message store and reassembly buffer.
    """

    def __init__(
        self,
        *,
        me: str,
        party_keys: Callable[[str], Mapping[str, VerifyKey] | None],
        nonces: NonceStore,
        inbox: Inbox,
        reassembler: Reassembler | None = None,
        max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS,
    ) -> None:
        self.me = me
        self._party_keys = party_keys
        self._nonces = nonces
        self.inbox = inbox
        self.reassembler = reassembler or Reassembler()
        self._skew = max_skew_seconds

    def handle(
        self,
        collab_id: str,
        *,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes | bytearray | memoryview,
        now: float,
    ) -> bool:
        """Process one POSTed frame; ``True`` if it completed a new message.

        Raises
        ------
        RequestRefused
            Unknown collaboration or key, bad signature, stale/future
            timestamp, replayed nonce, or a frame signed by a party other
            than the one it names as sender (all opaque, see ``reason``).
        ProtocolAbort
            A well-signed frame that is malformed, misrouted or inconsistent.
        """
        parties = self._party_keys(collab_id) or {}
        by_id = {key.fingerprint(): (name, key) for name, key in parties.items()}

        def lookup(key_id: str) -> VerifyKey | None:
            found = by_id.get(key_id)
            return found[1] if found else None

        key_id = verify_request(
            headers,
            method=method,
            path=path,
            body=body,
            now=now,
            lookup_key=lookup,
            nonces=self._nonces,
            max_skew_seconds=self._skew,
        )
        frame = Envelope.from_bytes(body)
        signer = by_id[key_id][0]
        if frame.sender != signer:
            raise ProtocolAbort(f"frame names sender {frame.sender!r} but {signer!r} signed it")
        if frame.collab_id != collab_id:
            raise ProtocolAbort("frame belongs to another collaboration than its URL")
        if frame.receiver != self.me:
            raise ProtocolAbort(f"frame is addressed to {frame.receiver!r}, not to {self.me!r}")
        delivered = self.reassembler.accept_message(frame)
        if delivered is None:
            return False
        payload, sha256 = delivered  # checked against the last frame's SHA-256
        return self.inbox.put_checked(frame.key, payload, sha256=sha256)


__all__ = ["MESSAGES_PATH", "PeerInbound", "messages_path"]
