"""Secure count/sum with additive masking: party stages, and runs over InMemoryHub and HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from peer_network import PeerNetwork

from insitu.computations.channel import Channel, InMemoryHub
from insitu.computations.secure_count import (
    MODULUS,
    Kind,
    SecureSumParty,
    SumMessage,
    secure_count,
    secure_sum,
)
from insitu.crypto.rng import DeterministicRng
from insitu.errors import InvalidInput, ProtocolAbort, Unavailable
from insitu.federation.http_channel import HttpChannel, RetryPolicy

NAMES = ["a", "b", "c"]


def run_parties(
    channels: dict[str, Channel], values: dict[str, int], run: Callable[..., int | None], **kw: Any
) -> dict[str, int | BaseException | None]:
    """Run every party in its own thread; collect outputs or errors."""
    out: dict[str, int | BaseException | None] = {}

    def party(name: str) -> None:
        try:
            out[name] = run(channels[name], values[name], **kw)
        except BaseException as exc:
            out[name] = exc

    threads = [threading.Thread(target=party, args=(n,)) for n in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return out


def parties(values: list[int], result: list[str], seed: int = 0) -> list[SecureSumParty]:
    return [
        SecureSumParty(n, NAMES, v, result_parties=result, rng=DeterministicRng(seed * 10 + i))
        for i, (n, v) in enumerate(zip(NAMES, values, strict=True))
    ]


def run_in_memory(ps: list[SecureSumParty]) -> dict[str, int]:
    """Drive the stages by hand, every message through bytes."""
    shares = {p.me: p.make_shares() for p in ps}
    for p in ps:
        for q in ps:
            if q is not p:
                p.add_share(q.me, SumMessage.from_bytes(shares[q.me][p.me].to_bytes()))
    partials = {p.me: p.partial_sum() for p in ps}
    totals = {}
    for p in ps:
        if p.me in p.result_parties:
            for q in ps:
                if q is not p:
                    p.add_partial(q.me, SumMessage.from_bytes(partials[q.me].to_bytes()))
            totals[p.me] = p.total()
    return totals


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, MODULUS // 3 - 1), min_size=3, max_size=3), st.integers(0, 10**6))
def test_result_parties_get_the_exact_sum(values: list[int], seed: int) -> None:
    assert run_in_memory(parties(values, ["a", "c"], seed)) == {"a": sum(values), "c": sum(values)}


def test_shares_and_partials_do_not_show_the_inputs() -> None:
    """Same inputs, other randomness: every message changes; other inputs, same
    randomness: the shares do not change at all (they are pure masks)."""
    first = parties([5, 7, 11], ["a"], seed=1)
    again = parties([5, 7, 11], ["a"], seed=2)
    other = parties([6, 8, 12], ["a"], seed=1)
    s1, s2, s3 = (p[1].make_shares() for p in (first, again, other))
    assert s1 != s2
    assert s1 == s3
    assert run_in_memory(parties([5, 7, 11], ["a"], seed=1)) == {"a": 23}


def test_stages_refuse_out_of_order_steps() -> None:
    a, b, _ = parties([1, 2, 3], ["a"])
    share = SumMessage(Kind.SHARE, 1)
    with pytest.raises(ProtocolAbort, match="cannot take a share in stage 'new'"):
        a.add_share("b", share)
    with pytest.raises(ProtocolAbort, match="cannot sum shares"):
        a.partial_sum()
    a.make_shares()
    with pytest.raises(ProtocolAbort, match="cannot make shares"):
        a.make_shares()
    with pytest.raises(ProtocolAbort, match="shares are missing"):
        a.partial_sum()
    a.add_share("b", share)
    with pytest.raises(ProtocolAbort, match="second share from 'b'"):
        a.add_share("b", share)
    with pytest.raises(ProtocolAbort, match="expected a share"):
        a.add_share("c", SumMessage(Kind.PARTIAL, 1))
    with pytest.raises(ProtocolAbort, match="unknown party 'z'"):
        a.add_share("z", share)
    with pytest.raises(ProtocolAbort, match="unknown party 'a'"):
        a.add_share("a", share)
    a.add_share("c", share)
    a.partial_sum()
    with pytest.raises(ProtocolAbort, match="partial sums are missing"):
        a.total()
    b.make_shares()
    b.add_share("a", share)
    b.add_share("c", share)
    b.partial_sum()
    with pytest.raises(ProtocolAbort, match="not a result party"):
        b.add_partial("a", SumMessage(Kind.PARTIAL, 1))
    with pytest.raises(ProtocolAbort, match="not a result party"):
        b.total()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01\x01" + b"\x00" * 7, "must be 10 bytes"),
        (b"\x02\x01" + b"\x00" * 8, "version 2"),
        (b"\x01\x07" + b"\x00" * 8, "kind 7"),
    ],
)
def test_malformed_messages_abort(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolAbort, match=reason):
        SumMessage.from_bytes(data)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((["a", "a", "b"], 1, ["a"]), InvalidInput),
        ((["a"], 1, ["a"]), InvalidInput),
        ((NAMES, 1, ["z"]), InvalidInput),
        ((NAMES, 1, []), InvalidInput),
        ((NAMES, -1, ["a"]), InvalidInput),
        ((NAMES, MODULUS // 3, ["a"]), InvalidInput),
        ((NAMES, 1.0, ["a"]), TypeError),
        ((NAMES, True, ["a"]), TypeError),
    ],
)
def test_bad_setup_is_refused(args: tuple[Any, ...], error: type[Exception]) -> None:
    names, value, result = args
    with pytest.raises(error):
        SecureSumParty("a", names, value, result_parties=result)


def test_secure_count_over_an_in_memory_hub() -> None:
    hub = InMemoryHub(NAMES)
    channels: dict[str, Channel] = {n: hub.channel(n) for n in NAMES}
    released: list[str] = []
    out = run_parties(
        channels,
        {"a": 120, "b": 0, "c": 3},
        lambda ch, v, **kw: secure_count(ch, v, on_release=lambda: released.append(ch.me), **kw),
        result_parties=["b"],
        timeout=10,
    )
    assert out == {"a": None, "b": 123, "c": None}
    assert sorted(released) == NAMES


def test_a_silent_party_makes_the_others_fail_without_output() -> None:
    hub = InMemoryHub(NAMES)
    channels: dict[str, Channel] = {n: hub.channel(n) for n in ("a", "b")}
    out = run_parties(channels, {"a": 1, "b": 2}, secure_sum, result_parties=["a"], timeout=0.2)
    assert all(isinstance(v, Unavailable) for v in out.values())


def test_secure_count_over_signed_http(network: PeerNetwork) -> None:
    for name in NAMES:
        network.add(name)
    channels: dict[str, Channel] = {
        name: HttpChannel(
            me=name,
            collab_id="count-1",
            peers=network.urls_except(name),
            key=network.peers[name].key,
            inbox=network.peers[name].inbox,
            retry=RetryPolicy(deadline=20),
        )
        for name in NAMES
    }
    network.peers["c"].gate.refuse_next = 2  # a short partition on the way to c
    out = run_parties(
        channels, {"a": 40, "b": 2, "c": 0}, secure_count, result_parties=["a", "c"], timeout=20
    )
    assert out == {"a": 42, "b": None, "c": 42}
    for name in NAMES:
        assert 401 not in network.peers[name].gate.seen
    assert network.peers["c"].gate.seen.count(503) == 2
