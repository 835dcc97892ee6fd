"""One secure-aggregation round driven by hand: stages, roster, aborts."""

import numpy as np
import pytest

from insitu.crypto.rng import DeterministicRng
from insitu.errors import ProtocolAbort
from insitu.protocols.secure_aggregation import (
    Reconstructor,
    ShareDealer,
    ShareHolder,
    abort_message,
)
from insitu.protocols.secure_aggregation import messages as m

SESSION = bytes(range(16))
N_IN, N_CP, LENGTH = 3, 3, 50


def _vectors() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 2**63, LENGTH, dtype=np.uint64) for _ in range(N_IN)]


def _deal(round_: int = 0) -> tuple[list[np.ndarray], list[list[bytes]]]:
    vectors = _vectors()
    dealt = [
        ShareDealer(
            session=SESSION,
            round_=round_,
            computing_parties=N_CP,
            explicit_to=i % N_CP,
            rng=DeterministicRng(i),
        ).deal(v)
        for i, v in enumerate(vectors)
    ]
    return vectors, dealt


def _holders() -> list[ShareHolder]:
    return [ShareHolder(session=SESSION, round_=0, inputs=N_IN, length=LENGTH) for _ in range(N_CP)]


def _run(holders: list[ShareHolder], rec: Reconstructor) -> np.ndarray:
    for j, h in enumerate(holders):
        rec.report(j, h.held())
    _, roster = rec.roster()
    for j, h in enumerate(holders):
        rec.combine(j, h.aggregate(roster))
    return rec.result()


def _reconstructor(quorum: int = N_IN) -> Reconstructor:
    return Reconstructor(
        session=SESSION, round_=0, computing_parties=N_CP, inputs=N_IN, length=LENGTH, quorum=quorum
    )


def test_round_sums_all_inputs_and_sends_at_most_8_bytes_per_element() -> None:
    vectors, dealt = _deal()
    holders = _holders()
    for i, msgs in enumerate(dealt):
        for j, msg in enumerate(msgs):
            assert len(msg) <= 8 * LENGTH + 64
            assert holders[j].accept(i, msg)
    assert np.array_equal(_run(holders, _reconstructor()), sum(vectors))


def test_dropout_left_out_under_quorum() -> None:
    vectors, dealt = _deal()
    holders = _holders()
    for i, msgs in enumerate(dealt):
        for j, msg in enumerate(msgs):
            if i == 1 and j == 2:
                holders[j].missing(i)  # input 1's message to party 2 never arrived
            else:
                holders[j].accept(i, msg)
    assert np.array_equal(_run(holders, _reconstructor(quorum=2)), vectors[0] + vectors[2])


def test_dropout_below_quorum_aborts() -> None:
    _, dealt = _deal()
    holders = _holders()
    decline = ShareDealer(session=SESSION, round_=0, computing_parties=N_CP, explicit_to=0).decline(
        "card check failed"
    )
    for i, msgs in enumerate(dealt):
        for j, msg in enumerate(msgs):
            assert holders[j].accept(i, decline if i == 0 else msg) is (i != 0)
    rec = _reconstructor()
    for j, h in enumerate(holders):
        rec.report(j, h.held())
    with pytest.raises(ProtocolAbort, match="quorum"):
        rec.roster()


def test_replayed_share_aborts() -> None:
    _, dealt = _deal()
    holder = _holders()[0]
    holder.accept(0, dealt[0][0])
    with pytest.raises(ProtocolAbort, match="second message"):
        holder.accept(0, dealt[0][0])


def test_share_from_other_round_or_session_aborts() -> None:
    _, dealt = _deal(round_=1)
    with pytest.raises(ProtocolAbort, match="round"):
        _holders()[0].accept(0, dealt[0][0])
    other = ShareHolder(session=bytes(16), round_=1, inputs=N_IN, length=LENGTH)
    with pytest.raises(ProtocolAbort, match="session"):
        other.accept(0, dealt[0][0])


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:-1],  # truncated vector
        lambda b: b + b"\x00",  # trailing byte
        lambda b: bytes([2]) + b[1:],  # unknown version
        lambda b: b[:1] + bytes([99]) + b[2:],  # unknown kind
        lambda b: b[:5],  # shorter than the header
    ],
)
def test_malformed_share_aborts(mangle) -> None:
    _, dealt = _deal()
    with pytest.raises(ProtocolAbort):
        _holders()[0].accept(0, mangle(dealt[0][0]))


def test_malformed_seed_aborts() -> None:
    _, dealt = _deal()
    seed_msg = dealt[0][1]
    with pytest.raises(ProtocolAbort):
        _holders()[1].accept(0, seed_msg[:-3])


def test_out_of_stage_steps_abort() -> None:
    holder = _holders()[0]
    with pytest.raises(ProtocolAbort):
        holder.held()  # inputs still outstanding
    with pytest.raises(ProtocolAbort):
        holder.aggregate(b"")
    rec = _reconstructor()
    with pytest.raises(ProtocolAbort):
        rec.result()
    dealer = ShareDealer(session=SESSION, round_=0, computing_parties=2, explicit_to=0)
    dealer.deal(np.zeros(3, dtype=np.uint64))
    with pytest.raises(ProtocolAbort):
        dealer.deal(np.zeros(3, dtype=np.uint64))


def test_roster_naming_unheld_input_aborts() -> None:
    _, dealt = _deal()
    holder = _holders()[0]
    holder.accept(0, dealt[0][0])
    holder.missing(1)
    holder.missing(2)
    holder.held()
    roster = m.pack(m.Kind.ROSTER, SESSION, 0, m.encode_indices([0, 1]))
    with pytest.raises(ProtocolAbort, match="lacks"):
        holder.aggregate(roster)


def test_abort_message_propagates_its_reason() -> None:
    holder = _holders()[0]
    for i in range(N_IN):
        holder.missing(i)
    holder.held()
    with pytest.raises(ProtocolAbort, match="quorum not met"):
        holder.aggregate(abort_message(SESSION, 0, "quorum not met"))
