"""Malformed, out-of-order, replayed and inconsistent PSI messages abort the run."""

from __future__ import annotations

import struct

import pytest

from insitu.errors import ProtocolAbort
from insitu.protocols.psi import Mode, PsiReceiver, PsiSender
from insitu.protocols.psi import messages as m

X = [bytes([i]) for i in range(10)]
Y = [bytes([i]) for i in range(5, 15)]


def with_body(data: bytes, body: bytes, *, count: int | None = None) -> bytes:
    msg = m.decode(data, expect=m.Kind(data[1]))
    n = msg.count if count is None else count
    return m.encode(msg.kind, msg.run_id, msg.seq, msg.last, n, body)


def test_invalid_points_from_the_receiver_abort(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    sender = PsiSender(mode=Mode.INTERSECTION, size=len(Y))
    sender.receive_hello(t.hello)
    list(sender.setup([Y]))
    bad = t.blinded[0][: m.HEADER_BYTES] + b"\xff" * 32 + t.blinded[0][m.HEADER_BYTES + 32 :]
    with pytest.raises(ProtocolAbort):
        list(sender.reblind([bad, *t.blinded[1:]]))


def test_invalid_points_from_the_sender_abort(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    t.receiver.receive_sender_items(t.sender_items)
    first = t.reblinded[0]
    bad = first[: m.HEADER_BYTES] + bytes(32) + first[m.HEADER_BYTES + 32 :]  # identity
    with pytest.raises(ProtocolAbort):
        t.receiver.receive_reblinded([bad, *t.reblinded[1:]])


def test_truncated_body_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    t.receiver.receive_sender_items(t.sender_items)
    with pytest.raises(ProtocolAbort):
        t.receiver.receive_reblinded([t.reblinded[0][:-1], *t.reblinded[1:]])


def test_wrong_count_of_reblinded_elements_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    t.receiver.receive_sender_items(t.sender_items)
    last = m.decode(t.reblinded[-1], expect=m.Kind.REBLINDED)
    shorter = with_body(t.reblinded[-1], last.body[:-32], count=last.count - 1)
    with pytest.raises(ProtocolAbort, match="different number"):
        t.receiver.receive_reblinded([*t.reblinded[:-1], shorter])


def test_sender_announcing_a_different_size_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.CARDINALITY)
    size, limbs = struct.unpack_from(">QB", t.sender_hello, m.HEADER_BYTES)
    receiver = PsiReceiver(mode=Mode.CARDINALITY)
    receiver.run_id = t.receiver.run_id
    receiver.hello()
    receiver.receive_sender_hello(with_body(t.sender_hello, struct.pack(">QB", size + 1, limbs)))
    list(receiver.blind([X]))
    with pytest.raises(ProtocolAbort, match="announced"):
        receiver.receive_sender_items(t.sender_items)


def test_out_of_order_chunks_abort(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    t.receiver.receive_sender_items(t.sender_items)
    swapped = [t.reblinded[1], t.reblinded[0], *t.reblinded[2:]]
    with pytest.raises(ProtocolAbort, match="out of order"):
        t.receiver.receive_reblinded(swapped)


def test_replayed_chunk_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    with pytest.raises(ProtocolAbort):
        t.receiver.receive_sender_items([t.sender_items[0], *t.sender_items])


def test_message_after_the_last_one_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    sender = PsiSender(mode=Mode.INTERSECTION, size=len(Y))
    sender.receive_hello(t.hello)
    list(sender.setup([Y]))
    with pytest.raises(ProtocolAbort):
        list(sender.reblind([*t.blinded, t.blinded[-1]]))


def test_stream_ending_before_its_last_chunk_aborts(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    with pytest.raises(ProtocolAbort, match="before its last"):
        t.receiver.receive_sender_items(t.sender_items[:-1])


def test_messages_of_another_run_abort(psi_start) -> None:
    one = psi_start(X, Y, Mode.INTERSECTION)
    two = psi_start(X, Y, Mode.INTERSECTION)
    with pytest.raises(ProtocolAbort, match="another run"):
        one.receiver.receive_sender_items(two.sender_items)


def test_wrong_kind_and_version_abort(psi_start) -> None:
    t = psi_start(X, Y, Mode.INTERSECTION)
    with pytest.raises(ProtocolAbort, match="expected"):
        t.receiver.receive_sender_items(t.reblinded)
    t2 = psi_start(X, Y, Mode.INTERSECTION)
    versioned = bytes([2]) + t2.sender_items[0][1:]
    with pytest.raises(ProtocolAbort, match="version"):
        t2.receiver.receive_sender_items([versioned, *t2.sender_items[1:]])


def test_mode_mismatch_aborts() -> None:
    receiver = PsiReceiver(mode=Mode.INTERSECTION)
    sender = PsiSender(mode=Mode.CARDINALITY, size=0)
    with pytest.raises(ProtocolAbort, match="different mode"):
        sender.receive_hello(receiver.hello())


def test_stage_misuse_aborts() -> None:
    receiver = PsiReceiver(mode=Mode.INTERSECTION)
    with pytest.raises(ProtocolAbort, match="stage"):
        list(receiver.blind([[b"a"]]))
    receiver.hello()
    with pytest.raises(ProtocolAbort, match="stage"):
        receiver.hello()
    sender = PsiSender(mode=Mode.INTERSECTION, size=0)
    with pytest.raises(ProtocolAbort, match="stage"):
        list(sender.reblind([]))


def test_tampered_payload_aborts(psi_start) -> None:
    t = psi_start([b"a"], [b"a"], Mode.PAYLOAD, extras=[b"secret"])
    item = bytearray(t.sender_items[0])
    item[-1] ^= 1
    t.receiver.receive_sender_items([bytes(item)])
    with pytest.raises(ProtocolAbort, match="authentication"):
        t.receiver.receive_reblinded(t.reblinded)


def test_tampered_aggregate_is_refused(psi_start) -> None:
    t = psi_start([b"a", b"b"], [b"a", b"b"], Mode.SUM, extras=[3, 4])
    t.receiver.receive_sender_items(t.sender_items)
    t.receiver.receive_reblinded(t.reblinded)
    reply = t.receiver.reply()
    assert reply is not None
    msg = m.decode(reply, expect=m.Kind.AGGREGATE)
    inflated = with_body(reply, struct.pack(">Q", 10**6) + msg.body[8:])
    with pytest.raises(ProtocolAbort):
        t.sender.finish(inflated)


def test_replayed_reply_is_refused(psi_start) -> None:
    t = psi_start([b"a"], [b"a"], Mode.INTERSECTION, both=True)
    t.receiver.receive_sender_items(t.sender_items)
    t.receiver.receive_reblinded(t.reblinded)
    reply = t.receiver.reply()
    t.sender.finish(reply)
    with pytest.raises(ProtocolAbort, match="stage"):
        t.sender.finish(reply)
