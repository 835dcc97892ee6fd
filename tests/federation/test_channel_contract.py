"""The Channel contract, run against the in-process hub and the signed HTTP channel alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from peer_network import PeerNetwork

from insitu.computations.channel import Channel, InMemoryHub
from insitu.errors import InvalidInput, PayloadTooLarge, ProtocolAbort, Unavailable
from insitu.federation.http_channel import HttpChannel, RetryPolicy

LIMIT = 4096
Pair = tuple[Channel, Channel]


def memory_pair(_network: PeerNetwork) -> Pair:
    hub = InMemoryHub(["alice", "bob"], max_message_bytes=LIMIT)
    return hub.channel("alice"), hub.channel("bob")


def http_pair(network: PeerNetwork) -> Pair:
    for name in ("alice", "bob"):
        network.add(name)
    ends = [
        HttpChannel(
            me=name,
            collab_id="contract",
            peers=network.urls_except(name),
            key=network.peers[name].key,
            inbox=network.peers[name].inbox,
            retry=RetryPolicy(deadline=10),
            chunk_bytes=1000,
            max_message_bytes=LIMIT,
        )
        for name in ("alice", "bob")
    ]
    return ends[0], ends[1]


@pytest.fixture(params=[memory_pair, http_pair], ids=["memory", "http"])
def pair(request: pytest.FixtureRequest, network: PeerNetwork) -> Pair:
    make: Callable[[PeerNetwork], Pair] = request.param
    return make(network)


def test_a_message_arrives_intact(pair: Pair) -> None:
    alice, bob = pair
    payload = bytes(range(256)) * 16  # every byte value, exactly at the limit
    alice.send("bob", "m1", payload)
    alice.send("bob", "empty", b"")
    assert bob.receive("alice", "m1", timeout=5) == payload
    assert bob.receive("alice", "empty", timeout=5) == b""


def test_messages_are_kept_apart_by_id_and_direction(pair: Pair) -> None:
    alice, bob = pair
    for i in range(5):
        alice.send("bob", f"m{i}", f"a{i}".encode())
        bob.send("alice", f"m{i}", f"b{i}".encode())
    assert [bob.receive("alice", f"m{i}", timeout=5) for i in reversed(range(5))] == [
        f"a{i}".encode() for i in reversed(range(5))
    ]
    assert alice.receive("bob", "m3", timeout=5) == b"b3"


def test_resending_an_id_is_a_no_op(pair: Pair) -> None:
    alice, bob = pair
    alice.send("bob", "m", b"same")
    alice.send("bob", "m", b"same")
    assert bob.receive("alice", "m", timeout=5) == b"same"


def test_too_large_messages_are_refused_before_sending(pair: Pair) -> None:
    alice, bob = pair
    with pytest.raises(PayloadTooLarge):
        alice.send("bob", "big", b"x" * (LIMIT + 1))
    with pytest.raises(Unavailable):
        bob.receive("alice", "big", timeout=0.05)


def test_unknown_parties_are_refused(pair: Pair) -> None:
    alice, _ = pair
    for to in ("carol", "alice"):
        with pytest.raises(InvalidInput):
            alice.send(to, "m", b"x")
    with pytest.raises(ProtocolAbort):
        alice.receive("carol", "m", timeout=0.01)
    with pytest.raises(TypeError):
        alice.send("bob", "m", "text")  # type: ignore[arg-type]
