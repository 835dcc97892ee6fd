"""Secure-aggregation messages round-trip through bytes and refuse anything else."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insitu.errors import ProtocolAbort
from insitu.protocols.secure_aggregation import messages as m

SESSION = bytes(range(16))
sessions = st.binary(min_size=16, max_size=16)
rounds = st.integers(min_value=0, max_value=2**32 - 1)


@given(sessions, rounds, st.lists(st.integers(0, 2**64 - 1), max_size=30))
def test_vector_round_trip(session: bytes, round_: int, values: list[int]) -> None:
    vec = np.array(values, dtype=np.uint64)
    payload = m.pack_vector(m.Kind.AGGREGATE, session, round_, vec)
    assert payload[0] == m.VERSION
    kind, body = m.unpack(payload, session=session, round_=round_, kinds=(m.Kind.AGGREGATE,))
    assert kind is m.Kind.AGGREGATE
    assert np.array_equal(m.decode_vector(body, len(values)), vec)


@given(sessions, rounds, st.binary(min_size=32, max_size=32), st.integers(0, 2**40))
def test_seed_round_trip(session: bytes, round_: int, seed: bytes, length: int) -> None:
    payload = m.pack(m.Kind.SHARE_SEED, session, round_, m.encode_seed(seed, length))
    _, body = m.unpack(payload, session=session, round_=round_, kinds=(m.Kind.SHARE_SEED,))
    assert m.decode_seed(body, length) == seed
    with pytest.raises(ProtocolAbort):
        m.decode_seed(body, length + 1)


@given(st.sets(st.integers(0, 99), max_size=20))
def test_indices_round_trip(indices: set[int]) -> None:
    body = m.encode_indices(list(indices))
    assert m.decode_indices(body, 100) == sorted(indices)
    if indices:
        with pytest.raises(ProtocolAbort):
            m.decode_indices(body, max(indices))  # an index beyond the known inputs


def test_unsorted_or_repeated_indices_refused() -> None:
    body = (2).to_bytes(2, "big") + (3).to_bytes(2, "big") + (1).to_bytes(2, "big")
    with pytest.raises(ProtocolAbort):
        m.decode_indices(body, 10)


def test_abort_carries_reason_and_wrong_kind_refused() -> None:
    abort = m.pack(m.Kind.ABORT, SESSION, 0, m.encode_reason("holder2 declined"))
    with pytest.raises(ProtocolAbort, match="holder2 declined"):
        m.unpack(abort, session=SESSION, round_=0, kinds=(m.Kind.ROSTER,))
    held = m.pack(m.Kind.HELD, SESSION, 0, m.encode_indices([0]))
    with pytest.raises(ProtocolAbort, match="unexpected"):
        m.unpack(held, session=SESSION, round_=0, kinds=(m.Kind.ROSTER,))
    with pytest.raises(ProtocolAbort):
        m.unpack("text", session=SESSION, round_=0, kinds=(m.Kind.HELD,))  # type: ignore[arg-type]
