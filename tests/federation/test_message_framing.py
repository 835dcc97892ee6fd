"""Frames round-trip through bytes; reassembly tolerates reordering and repeats, nothing else."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.errors import ProtocolAbort
from insitu.federation.messages import (
    MAGIC,
    NO_SHA256,
    VERSION,
    Chunker,
    Envelope,
    Reassembler,
)

ROUTE = {"collab_id": "c1", "sender": "alice", "receiver": "bob", "msg_id": "round-1/share"}
ids = st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 255)


def frames(payload: bytes, chunk: int = 10, **route: str) -> list[Envelope]:
    return list(Chunker(chunk).split(payload, **{**ROUTE, **route}))


def wire(frame: Envelope) -> Envelope:
    return Envelope.from_bytes(frame.to_bytes())


@settings(max_examples=100, deadline=None)
@given(ids, ids, ids, ids, st.binary(max_size=200), st.integers(1, 64))
def test_frames_round_trip_through_bytes(
    collab: str, sender: str, receiver: str, msg: str, payload: bytes, chunk: int
) -> None:
    route = {"collab_id": collab, "sender": sender, "receiver": receiver, "msg_id": msg}
    split = frames(payload, chunk, **route)
    assert len(split) == max(1, -(-len(payload) // chunk))
    for frame in split:
        back = wire(frame)
        assert back == frame
        assert back.to_bytes().startswith(MAGIC + bytes([VERSION]))
    assert b"".join(bytes(f.payload) for f in split) == payload
    # only the last frame carries the message's hash
    assert split[-1].total_sha256 == hashlib.sha256(payload).digest()
    assert all(f.total_sha256 == NO_SHA256 for f in split[:-1])


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 50), st.randoms(use_true_random=False))
def test_reassembly_accepts_any_order_and_exact_repeats(payload: bytes, chunk: int, rnd) -> None:  # type: ignore[no-untyped-def]
    split = [wire(f) for f in frames(payload, chunk)]
    arrivals = split + rnd.sample(split, k=rnd.randint(0, len(split)))
    rnd.shuffle(arrivals)
    first_full = max(arrivals.index(f) for f in split)
    reassembler = Reassembler()
    outputs = [reassembler.accept(f) for f in arrivals]
    delivered = [o for o in outputs if o is not None]
    assert delivered == [payload]
    assert outputs[first_full] == payload
    assert reassembler.pending_bytes == 0


def test_empty_message_is_one_empty_frame() -> None:
    (frame,) = frames(b"")
    assert frame.chunk_count == 1 and frame.total_size == 0
    assert Reassembler().accept(wire(frame)) == b""


def test_conflicting_duplicate_aborts_and_drops_the_message() -> None:
    a, b, c = frames(b"x" * 30)
    reassembler = Reassembler()
    reassembler.accept(a)
    forged = Envelope(**{**a.__dict__, "payload": b"y" * 10})
    with pytest.raises(ProtocolAbort, match="conflicting duplicate of chunk 0"):
        reassembler.accept(forged)
    assert reassembler.pending_bytes == 0
    reassembler.accept(b)
    assert reassembler.accept(c) is None  # chunk 0 is gone: the message never completes


def test_a_late_repeat_of_a_delivered_message_is_ignored_but_a_different_one_aborts() -> None:
    reassembler = Reassembler()
    (frame,) = frames(b"hello")
    assert reassembler.accept(frame) == b"hello"
    assert reassembler.accept(frame) is None
    (other,) = frames(b"HELLO")
    with pytest.raises(ProtocolAbort, match="already delivered"):
        reassembler.accept(other)


def _mutated(frame: Envelope, **changes: object) -> Envelope:
    return Envelope(**{**frame.__dict__, **changes})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"chunk_count": 4}, "disagree on count"),
        ({"total_size": 31}, "disagree on count or size"),
    ],
)
def test_frames_that_disagree_abort(changes: dict[str, object], reason: str) -> None:
    a, b, _ = frames(b"x" * 30)
    reassembler = Reassembler()
    reassembler.accept(a)
    with pytest.raises(ProtocolAbort, match=reason):
        reassembler.accept(_mutated(b, **changes))


def test_a_hash_in_a_frame_other_than_the_last_aborts() -> None:
    a, _b, c = frames(b"x" * 30)
    with pytest.raises(ProtocolAbort, match="only the last frame does"):
        Reassembler().accept(_mutated(a, total_sha256=c.total_sha256))


def test_repeats_of_the_last_frame_that_disagree_on_the_hash_abort() -> None:
    _a, _b, c = frames(b"x" * 30)
    reassembler = Reassembler()
    reassembler.accept(c)
    with pytest.raises(ProtocolAbort, match="disagree on hash"):
        reassembler.accept(_mutated(c, total_sha256=b"\x01" * 32))
    assert reassembler.pending_bytes == 0


def test_a_frame_of_another_message_under_the_same_id_is_caught_on_completion() -> None:
    a, _b, c = frames(b"x" * 30)
    other = frames(b"y" * 30)[1]  # well formed, same id, other content
    reassembler = Reassembler()
    reassembler.accept(a)
    reassembler.accept(other)
    with pytest.raises(ProtocolAbort, match="does not match its SHA-256"):
        reassembler.accept(c)
    assert reassembler.pending_bytes == 0


def test_a_late_frame_of_a_delivered_message_is_ignored_and_its_last_frame_compared() -> None:
    a, b, c = frames(b"x" * 30)
    reassembler = Reassembler()
    assert [reassembler.accept(f) for f in (a, b, c)] == [None, None, b"x" * 30]
    assert reassembler.accept(b) is None and reassembler.accept(c) is None
    with pytest.raises(ProtocolAbort, match="already delivered"):
        reassembler.accept(frames(b"y" * 30)[2])


def test_accept_message_returns_the_checked_sha256() -> None:
    payload = b"z" * 25
    reassembler = Reassembler()
    delivered = [reassembler.accept_message(f) for f in frames(payload)]
    assert delivered[:-1] == [None, None]
    assert delivered[-1] == (payload, hashlib.sha256(payload).digest())


def test_frames_are_hashed_as_they_are_taken() -> None:
    split = Chunker(10).split(b"x" * 30, **ROUTE)
    first = next(split)  # the first frame goes out before the rest is read
    assert first.total_sha256 == NO_SHA256
    assert Chunker(10).count(30) == 3 and Chunker(10).count(0) == 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"chunk_index": 3}, "out of range"),
        ({"chunk_count": 0, "chunk_index": 0}, "out of range"),
        ({"chunk_count": 31}, "more chunks than bytes"),
        ({"total_size": 10**12}, "exceeds the limit"),
    ],
)
def test_impossible_counts_and_sizes_abort(changes: dict[str, object], reason: str) -> None:
    a = frames(b"x" * 30)[0]
    with pytest.raises(ProtocolAbort, match=reason):
        Reassembler(max_message_bytes=1000).accept(_mutated(a, **changes))


def test_chunks_longer_than_announced_abort() -> None:
    a, b, _c = frames(b"x" * 30)
    reassembler = Reassembler()
    reassembler.accept(_mutated(a, payload=b"x" * 25))
    with pytest.raises(ProtocolAbort, match="exceed its announced size"):
        reassembler.accept(b)


def test_short_message_and_hash_mismatch_abort() -> None:
    a, b, c = frames(b"x" * 30)
    reassembler = Reassembler()
    reassembler.accept(a)
    reassembler.accept(b)
    with pytest.raises(ProtocolAbort, match="shorter than its announced size"):
        reassembler.accept(_mutated(c, payload=b"x" * 9))
    reassembler = Reassembler()
    reassembler.accept(a)
    reassembler.accept(b)
    with pytest.raises(ProtocolAbort, match="does not match its SHA-256"):
        reassembler.accept(_mutated(c, payload=b"z" * 10))


def test_pending_bytes_are_bounded() -> None:
    reassembler = Reassembler(max_pending_bytes=25)
    reassembler.accept(frames(b"x" * 30, msg_id="m1")[0])
    reassembler.accept(frames(b"x" * 30, msg_id="m2")[0])
    with pytest.raises(ProtocolAbort, match="too many bytes pending"):
        reassembler.accept(frames(b"x" * 30, msg_id="m3")[0])
    assert reassembler.pending_bytes == 20


def test_messages_are_kept_apart_by_every_routing_field() -> None:
    reassembler = Reassembler()
    first = frames(b"a" * 20)
    for field in ROUTE:
        other = frames(b"b" * 20, **{field: "other"})
        reassembler.accept(first[0])
        assert reassembler.accept(other[0]) is None
        assert reassembler.accept(other[1]) == b"b" * 20
    assert reassembler.accept(first[1]) == b"a" * 20


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "bad magic"),
        (b"XX\x02", "bad magic"),
        (MAGIC + b"\x01", "unsupported frame version 1"),
        (MAGIC + b"\x03", "unsupported frame version 3"),
        (MAGIC + b"\x02", "truncated"),
        (MAGIC + b"\x02\x05ab", "truncated or empty id"),
        (MAGIC + b"\x02\x00", "truncated or empty id"),
        (MAGIC + b"\x02\x01\xff", "not UTF-8"),
        (MAGIC + b"\x02" + b"\x01a" * 4 + b"\x00" * 10, "truncated frame header"),
    ],
)
def test_malformed_frames_abort(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolAbort, match=reason):
        Envelope.from_bytes(data)


def test_encoding_refuses_bad_ids() -> None:
    frame = frames(b"x")[0]
    for bad in ("", "x" * 256):
        with pytest.raises(ValueError):
            _mutated(frame, msg_id=bad).to_bytes()


def test_chunker_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError):
        Chunker(0)
    with pytest.raises(TypeError):
        Chunker(True)


def test_held_chunks_do_not_change_when_a_mutable_buffer_is_reused() -> None:
    first, second = frames(b"a" * 10 + b"b" * 10)
    buffer = bytearray(first.to_bytes())
    reassembler = Reassembler()
    assert reassembler.accept(Envelope.from_bytes(buffer)) is None
    buffer[-10:] = b"z" * 10  # a server reusing its receive buffer
    assert reassembler.accept(Envelope.from_bytes(second.to_bytes())) == b"a" * 10 + b"b" * 10


def test_discard_drops_the_partial_messages_of_one_collaboration() -> None:
    reassembler = Reassembler()
    reassembler.accept(frames(b"x" * 30)[0])
    reassembler.accept(frames(b"x" * 30, collab_id="c2")[0])
    assert reassembler.discard("c1") == 1
    assert reassembler.pending_bytes == 10
    assert reassembler.discard("c1") == 0
