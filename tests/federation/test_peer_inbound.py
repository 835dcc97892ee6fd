"""PeerInbound without HTTP: which collaborations and signers it accepts."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import ProtocolAbort
from insitu.federation.inbound import PeerInbound, messages_path
from insitu.federation.inbox import MemoryInbox
from insitu.federation.messages import Chunker
from insitu.federation.nonces import MemoryNonceStore
from insitu.federation.signing import RefusalReason, RequestRefused, sign_request

NOW = 1_800_000_000.0
ALICE, CAROL = SigningKey.generate(), SigningKey.generate()
COLLABS: dict[str, Mapping[str, VerifyKey]] = {
    "c1": {"alice": ALICE.public_key},
    "c2": {"carol": CAROL.public_key},
}


def deliver(inbound: PeerInbound, collab: str, key: SigningKey, sender: str = "alice") -> bool:
    (frame,) = Chunker().split(b"hi", collab_id=collab, sender=sender, receiver="bob", msg_id="m")
    body, path = frame.to_bytes(), messages_path(collab)
    headers = sign_request(
        key, method="POST", path=path, body=body, now=NOW, key_id=key.public_key.fingerprint()
    )
    return inbound.handle(collab, headers=headers, method="POST", path=path, body=body, now=NOW)


@pytest.fixture
def inbound() -> PeerInbound:
    return PeerInbound(
        me="bob", party_keys=COLLABS.get, nonces=MemoryNonceStore(), inbox=MemoryInbox()
    )


def test_a_party_of_the_collaboration_is_accepted(inbound: PeerInbound) -> None:
    assert deliver(inbound, "c1", ALICE)
    assert inbound.inbox.get(("c1", "alice", "bob", "m"), timeout=0) == b"hi"


def test_unknown_collaborations_are_refused(inbound: PeerInbound) -> None:
    with pytest.raises(RequestRefused) as info:
        deliver(inbound, "c9", ALICE)
    assert info.value.reason is RefusalReason.UNKNOWN_KEY


def test_a_known_peer_cannot_post_into_a_collaboration_it_is_not_part_of(
    inbound: PeerInbound,
) -> None:
    with pytest.raises(RequestRefused):
        deliver(inbound, "c1", CAROL, sender="carol")


def test_a_party_cannot_speak_for_another() -> None:
    both = {"c3": {"alice": ALICE.public_key, "carol": CAROL.public_key}}
    inbound = PeerInbound(
        me="bob", party_keys=both.get, nonces=MemoryNonceStore(), inbox=MemoryInbox()
    )
    with pytest.raises(ProtocolAbort, match="names sender 'carol' but 'alice' signed it"):
        deliver(inbound, "c3", ALICE, sender="carol")
