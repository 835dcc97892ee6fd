"""HttpChannel against real HTTP servers on loopback: delivery, partitions, replays, reordering."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import httpx
import pytest
from peer_network import FakeTime, Peer, PeerNetwork

from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput, PayloadTooLarge, ProtocolAbort, SecurityError, Unavailable
from insitu.federation.http_channel import HttpChannel, RetryPolicy
from insitu.federation.inbound import messages_path
from insitu.federation.inbox import MemoryInbox
from insitu.federation.messages import NO_SHA256, Chunker, Envelope
from insitu.federation.signing import sign_request

COLLAB = "collab-1"


def channel(
    net: PeerNetwork,
    me: str,
    *,
    fake: FakeTime | None = None,
    retry: RetryPolicy | None = None,
    chunk_bytes: int = 1000,
    key: SigningKey | None = None,
    max_in_flight: int = 2,
) -> HttpChannel:
    peer = net.peers[me]
    return HttpChannel(
        me=me,
        collab_id=COLLAB,
        peers=net.urls_except(me),
        key=key or peer.key,
        inbox=peer.inbox,
        retry=retry or RetryPolicy(deadline=10.0),
        chunk_bytes=chunk_bytes,
        max_in_flight=max_in_flight,
        clock=fake.clock if fake else time.time,
        sleep=fake.sleep if fake else time.sleep,
    )


@pytest.fixture
def pair(network: PeerNetwork) -> tuple[Peer, Peer]:
    return network.add("alice"), network.add("bob")


def post_frame(sender: Peer, to: Peer, frame: Envelope) -> httpx.Response:
    """Sign and POST one frame by hand, as a sender (or an attacker replaying one) would."""
    body = frame.to_bytes()
    path = messages_path(COLLAB)
    headers = sign_request(
        sender.key,
        method="POST",
        path=path,
        body=body,
        now=time.time(),
        key_id=sender.key.public_key.fingerprint(),
    )
    return httpx.post(to.url + path, content=body, headers=headers)


def split(payload: bytes, msg_id: str, chunk: int = 100) -> list[Envelope]:
    return list(
        Chunker(chunk).split(
            payload, collab_id=COLLAB, sender="alice", receiver="bob", msg_id=msg_id
        )
    )


@pytest.mark.parametrize("in_flight", [1, 2, 5])
def test_messages_cross_in_both_directions_in_chunks(
    network: PeerNetwork, pair: tuple[Peer, Peer], in_flight: int
) -> None:
    alice = channel(network, "alice", max_in_flight=in_flight)
    bob = channel(network, "bob", max_in_flight=in_flight)
    big = bytes(range(256)) * 40  # 10 KiB: 11 chunks of 1000 bytes
    alice.send("bob", "m1", big)
    bob.send("alice", "m1", b"reply")
    assert bob.receive("alice", "m1", timeout=5) == big
    assert alice.receive("bob", "m1", timeout=5) == b"reply"
    assert network.peers["bob"].gate.seen == [204] * 11
    alice.send("bob", "m1", big)  # a resend of a delivered message is a no-op
    assert bob.receive("alice", "m1", timeout=5) == big


def test_peers_may_live_under_a_base_path(network: PeerNetwork, pair: tuple[Peer, Peer]) -> None:
    alice = HttpChannel(
        me="alice", collab_id=COLLAB, peers={"bob": network.peers["bob"].url + "/node/"},
        key=network.peers["alice"].key, inbox=network.peers["alice"].inbox,
    )  # fmt: skip
    alice.send("bob", "m", b"via a base path")
    assert channel(network, "bob").receive("alice", "m", timeout=5) == b"via a base path"
    assert network.peers["bob"].gate.seen == [204]
    alice.close()


def test_a_partition_that_heals_is_survived_by_retrying(
    network: PeerNetwork, pair: tuple[Peer, Peer], fake_time: FakeTime
) -> None:
    gate = network.peers["bob"].gate
    gate.refuse_next = 4
    channel(network, "alice", fake=fake_time).send("bob", "m", b"x" * 2500)
    assert gate.seen == [503] * 4 + [204] * 3
    assert channel(network, "bob").receive("alice", "m", timeout=5) == b"x" * 2500


def test_lost_replies_lead_to_retries_that_deliver_once(
    network: PeerNetwork, pair: tuple[Peer, Peer], fake_time: FakeTime
) -> None:
    gate = network.peers["bob"].gate
    gate.lose_next = 2  # bob stores the first chunk twice over, but alice hears 503
    channel(network, "alice", fake=fake_time).send("bob", "m", b"y" * 1500)
    assert gate.seen == [503, 503, 204, 204]
    assert channel(network, "bob").receive("alice", "m", timeout=5) == b"y" * 1500


def test_a_partition_past_the_deadline_raises_unavailable(
    network: PeerNetwork, pair: tuple[Peer, Peer], fake_time: FakeTime
) -> None:
    network.peers["bob"].gate.refuse_all = True
    retry = RetryPolicy(deadline=1.0, initial=0.1, maximum=0.4)
    with pytest.raises(Unavailable, match=r"peer 'bob' unreachable: HTTP 503 after 5 attempt"):
        channel(network, "alice", retry=retry, fake=fake_time).send("bob", "m", b"x")
    assert fake_time.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.3])  # the last one cut at 1 s
    assert network.peers["bob"].gate.seen == [503] * 5


def test_an_attempt_at_the_deadline_still_gets_a_fair_timeout(
    network: PeerNetwork, pair: tuple[Peer, Peer], fake_time: FakeTime
) -> None:
    gate = network.peers["bob"].gate
    gate.refuse_next, gate.stall = 1, 0.2
    retry = RetryPolicy(deadline=1.0, initial=1.0, min_attempt=5.0)
    channel(network, "alice", retry=retry, fake=fake_time).send("bob", "m", b"x")
    assert fake_time.sleeps == [1.0]  # the second attempt started exactly at the deadline
    assert gate.seen == [503, 204]


def test_an_unreachable_peer_raises_unavailable(network: PeerNetwork, fake_time: FakeTime) -> None:
    network.add("alice")
    closed = HttpChannel(
        me="alice",
        collab_id=COLLAB,
        peers={"bob": "http://127.0.0.1:9"},  # discard port: nothing listens
        key=network.peers["alice"].key,
        inbox=network.peers["alice"].inbox,
        retry=RetryPolicy(deadline=0.2, initial=0.1),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
    )
    with pytest.raises(Unavailable, match="connection failed after 3 attempt"):
        closed.send("bob", "m", b"x")
    closed.close()


def test_a_replayed_request_is_refused_but_a_resigned_repeat_is_harmless(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    alice, bob = pair
    (frame,) = split(b"once", "m")
    body = frame.to_bytes()
    path = messages_path(COLLAB)
    headers = sign_request(
        alice.key, method="POST", path=path, body=body, now=time.time(),
        key_id=alice.key.public_key.fingerprint(),
    )  # fmt: skip
    assert httpx.post(bob.url + path, content=body, headers=headers).status_code == 204
    replay = httpx.post(bob.url + path, content=body, headers=headers)
    assert (replay.status_code, replay.text) == (401, "request refused")
    assert bob.gate.refusal_reasons == ["replay"]
    assert post_frame(alice, bob, frame).status_code == 204  # fresh signature, same frame
    assert bob.inbox.get((COLLAB, "alice", "bob", "m"), timeout=1) == b"once"


def test_out_of_order_and_repeated_chunks_reassemble(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    alice, bob = pair
    payload = bytes(range(256)) * 3
    frames = split(payload, "m", chunk=100)
    for frame in [*reversed(frames), frames[3], frames[0]]:
        assert post_frame(alice, bob, frame).status_code == 204
    assert channel(network, "bob").receive("alice", "m", timeout=5) == payload


def test_a_conflicting_chunk_is_refused_and_the_sender_told(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    alice, bob = pair
    first, _ = split(b"a" * 200, "m")
    assert post_frame(alice, bob, first).status_code == 204
    forged = Envelope(**{**first.__dict__, "payload": b"b" * 100})
    response = post_frame(alice, bob, forged)
    assert response.status_code == 409 and "conflicting duplicate" in response.text
    sender = channel(network, "alice")
    sender.send("bob", "m2", b"c" * 200)
    with pytest.raises(ProtocolAbort, match="HTTP 409"):
        sender.send("bob", "m2", b"d" * 200)  # other content under a delivered id
    assert channel(network, "bob").receive("alice", "m2", timeout=5) == b"c" * 200


def test_a_refused_frame_fails_a_parallel_send(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    sender = channel(network, "alice", max_in_flight=3)
    sender.send("bob", "m", b"a" * 5000)
    with pytest.raises(ProtocolAbort, match="HTTP 409"):
        sender.send("bob", "m", b"b" * 5000)  # five frames of other content, same id
    assert channel(network, "bob").receive("alice", "m", timeout=5) == b"a" * 5000
    with pytest.raises(ValueError):
        channel(network, "alice", max_in_flight=0)
    with pytest.raises(ValueError, match="min_attempt must be positive"):
        RetryPolicy(min_attempt=0)


def test_a_frame_naming_another_sender_is_refused(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    alice, bob = pair
    network.add("carol")
    (frame,) = split(b"spoof", "m")
    spoofed = Envelope(**{**frame.__dict__, "sender": "carol"})
    response = post_frame(alice, bob, spoofed)
    assert response.status_code == 409 and "'alice' signed it" in response.text


def test_misrouted_frames_are_refused(network: PeerNetwork, pair: tuple[Peer, Peer]) -> None:
    alice, bob = pair
    (frame,) = split(b"x", "m")
    for changes in ({"receiver": "alice"}, {"collab_id": "other"}):
        response = post_frame(alice, bob, Envelope(**{**frame.__dict__, **changes}))
        assert response.status_code == 409


def test_an_unknown_key_is_refused_and_not_retried(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    stranger = channel(network, "alice", key=SigningKey.generate())
    with pytest.raises(SecurityError, match="refused this node's signature"):
        stranger.send("bob", "m", b"x")
    assert network.peers["bob"].gate.seen == [401]
    assert network.peers["bob"].gate.refusal_reasons == ["unknown_key"]


def test_receive_waits_for_a_late_message_and_times_out_otherwise(
    network: PeerNetwork, pair: tuple[Peer, Peer]
) -> None:
    alice, bob = channel(network, "alice"), channel(network, "bob")
    with pytest.raises(Unavailable):
        bob.receive("alice", "late", timeout=0.05)
    sender = threading.Timer(0.1, alice.send, args=("bob", "late", b"here"))
    sender.start()
    try:
        assert bob.receive("alice", "late", timeout=10) == b"here"
    finally:
        sender.join()


def test_channel_checks_parties_and_sizes(network: PeerNetwork, pair: tuple[Peer, Peer]) -> None:
    alice = channel(network, "alice")
    assert alice.parties == ("alice", "bob")
    with pytest.raises(InvalidInput):
        alice.send("carol", "m", b"x")
    with pytest.raises(InvalidInput):
        alice.send("alice", "m", b"x")
    with pytest.raises(ProtocolAbort):
        alice.receive("carol", "m", timeout=0)
    small = HttpChannel(
        me="alice", collab_id=COLLAB, peers={"bob": "http://x"}, key=SigningKey.generate(),
        inbox=network.peers["alice"].inbox, max_message_bytes=10,
    )  # fmt: skip
    with pytest.raises(PayloadTooLarge):
        small.send("bob", "m", b"x" * 11)
    with pytest.raises(InvalidInput):
        HttpChannel(
            me="alice", collab_id=COLLAB, peers={"alice": "http://x"}, key=SigningKey.generate(),
            inbox=network.peers["alice"].inbox,
        )  # fmt: skip


def test_a_frame_signed_ahead_is_signed_again_after_a_long_wait(fake_time: FakeTime) -> None:
    age: dict[int, list[float]] = {}  # chunk index -> age of the signature of each POST
    refusals = [503] * 6
    signer_reads: list[float] = []  # clock reads by the thread that signs frames ahead
    ahead = threading.Event()

    def clock() -> float:
        if threading.current_thread().name.startswith("insitu-sign"):
            signer_reads.append(fake_time.now)
            if len(signer_reads) >= 4:  # frames 0 and 1 are signed
                ahead.set()
        return fake_time.clock()

    def bob(request: httpx.Request) -> httpx.Response:
        assert ahead.wait(10)  # frame 1 is signed before frame 0 is answered
        frame = Envelope.from_bytes(request.content)
        signed_at = int(request.headers["X-Insitu-Timestamp"])
        age.setdefault(frame.chunk_index, []).append(fake_time.now - signed_at)
        if frame.chunk_index == 0 and refusals:
            return httpx.Response(refusals.pop())
        return httpx.Response(204)

    chan = HttpChannel(
        me="alice", collab_id=COLLAB, peers={"bob": "http://bob.test"},
        key=SigningKey.generate(), inbox=MemoryInbox(),
        client=httpx.Client(transport=httpx.MockTransport(bob)),
        retry=RetryPolicy(deadline=600, initial=10, maximum=10), chunk_bytes=100,
        max_in_flight=1, clock=clock, sleep=fake_time.sleep,
    )  # fmt: skip
    start = fake_time.now
    chan.send("bob", "m", b"z" * 250)  # three frames; the first is retried for 60 s
    assert [len(age[i]) for i in (0, 1, 2)] == [7, 1, 1]
    assert signer_reads[2:4] == [start, start]  # frame 1 was signed at the start...
    # ...and went out a minute later, signed anew: no POST carries an old signature
    assert max(a for ages in age.values() for a in ages) < 30


@pytest.mark.parametrize("in_flight", [1, 2])
def test_only_the_last_frame_posted_carries_the_message_hash(in_flight: int) -> None:
    posted: dict[int, bytes] = {}
    lock = threading.Lock()

    def bob(request: httpx.Request) -> httpx.Response:
        frame = Envelope.from_bytes(request.content)
        with lock:
            posted[frame.chunk_index] = frame.total_sha256
        return httpx.Response(204)

    chan = HttpChannel(
        me="alice", collab_id=COLLAB, peers={"bob": "http://bob.test"},
        key=SigningKey.generate(), inbox=MemoryInbox(),
        client=httpx.Client(transport=httpx.MockTransport(bob)), chunk_bytes=100,
        max_in_flight=in_flight,
    )  # fmt: skip
    payload = os.urandom(250)
    chan.send("bob", "m", payload)
    assert posted == {0: NO_SHA256, 1: NO_SHA256, 2: hashlib.sha256(payload).digest()}
