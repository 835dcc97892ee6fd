"""PSI messages round-trip through bytes, and arbitrary bytes only ever cause ProtocolAbort."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.errors import ProtocolAbort
from insitu.protocols.psi import Mode, PsiReceiver, PsiSender
from insitu.protocols.psi import messages as m


@given(
    kind=st.sampled_from(list(m.Kind)),
    run_id=st.binary(min_size=16, max_size=16),
    seq=st.integers(0, 2**32 - 1),
    last=st.booleans(),
    count=st.integers(0, 2**32 - 1),
    body=st.binary(max_size=64),
)
def test_messages_round_trip(kind, run_id, seq, last, count, body) -> None:
    message = m.decode(m.encode(kind, run_id, seq, last, count, body), expect=kind)
    assert (message.kind, message.run_id, message.seq, message.last) == (kind, run_id, seq, last)
    assert (message.count, message.body) == (count, body)
    assert m.decode(message.to_bytes(), expect=kind) == message


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(max_size=200), mode=st.sampled_from(list(Mode)))
def test_garbage_aborts_every_stage(garbage: bytes, mode: Mode) -> None:
    extras = {Mode.SUM: [[1]], Mode.PAYLOAD: [[b"p"]]}.get(mode)
    sender = PsiSender(mode=mode, size=1)
    for call in (
        lambda: sender.receive_hello(garbage),
        lambda: PsiReceiver(mode=mode).receive_sender_hello(garbage),
    ):
        with contextlib.suppress(ProtocolAbort):  # a well-formed HELLO may be accepted
            call()
    receiver = PsiReceiver(mode=mode)
    good_sender = PsiSender(mode=mode, size=1)
    receiver.receive_sender_hello(good_sender.receive_hello(receiver.hello()))
    list(receiver.blind([[b"a"]]))
    list(good_sender.setup([[b"a"]], extras))
    with pytest.raises(ProtocolAbort):  # cannot carry this run's 16-byte id by chance
        receiver.receive_sender_items([garbage])
    with pytest.raises(ProtocolAbort):
        list(good_sender.reblind([garbage]))
