"""Fixed-point encoding: precision, headroom and overflow detection."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insitu.crypto import fixed_point as fp
from insitu.errors import InvalidInput

reals = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(reals, min_size=1, max_size=50), st.integers(min_value=0, max_value=30))
def test_round_trip_within_half_a_grid_step(values: list[float], frac_bits: int) -> None:
    x = np.array(values)
    words = fp.encode(x, frac_bits=frac_bits, bound=1e6)
    back = fp.decode(words, frac_bits=frac_bits, lower=-1e6, upper=1e6, slack=1)
    assert np.all(np.abs(back - x) <= math.ldexp(1.0, -(frac_bits + 1)) + np.abs(x) * 2.0**-52)


@given(st.lists(st.lists(reals, min_size=3, max_size=3), min_size=1, max_size=20))
def test_sum_of_encodings_encodes_the_sum(rows: list[list[float]]) -> None:
    f = 20
    total = np.zeros(3, dtype=np.uint64)
    for row in rows:
        total += fp.encode(np.array(row), frac_bits=f, bound=1e6)
    k = len(rows)
    back = fp.decode(total, frac_bits=f, lower=-1e6 * k, upper=1e6 * k, slack=k)
    exact = np.sum(np.array(rows), axis=0)
    assert np.all(np.abs(back - exact) <= fp.max_error(f, k) + np.abs(exact) * 2.0**-50 + 1e-9)


def test_value_above_bound_refused_at_encode() -> None:
    with pytest.raises(InvalidInput, match="bound"):
        fp.encode(np.array([1.0, 11.0]), frac_bits=8, bound=10.0)
    with pytest.raises(InvalidInput):
        fp.encode(np.array([math.nan]), frac_bits=8, bound=10.0)


def test_bound_without_headroom_refused() -> None:
    with pytest.raises(InvalidInput, match="headroom"):
        fp.encode(np.array([1.0]), frac_bits=40, bound=2.0**30)
    assert fp.frac_bits_for(2.0**30, max_frac_bits=40) == 31
    assert fp.frac_bits_for(1.0, max_frac_bits=16) == 16
    with pytest.raises(InvalidInput):
        fp.frac_bits_for(2.0**63, max_frac_bits=16)


def test_wrapped_aggregate_is_detected_not_returned() -> None:
    f = 16
    big = fp.encode(np.array([2.0**44]), frac_bits=f, bound=2.0**44)
    total = np.zeros(1, dtype=np.uint64)
    for _ in range(2**3):  # 8 · 2^60 wraps past 2^63
        total += big
    with pytest.raises(InvalidInput, match="outside their declared range"):
        fp.decode(total, frac_bits=f, lower=0.0, upper=2.0**44 * 8)


def test_negative_values_decode_signed() -> None:
    words = fp.encode(np.array([-3.25]), frac_bits=4, bound=4)
    assert fp.decode(words, frac_bits=4, lower=-4, upper=4)[0] == -3.25
    with pytest.raises(InvalidInput):
        fp.decode(words, frac_bits=4, lower=0, upper=4)


def test_types_checked() -> None:
    with pytest.raises(TypeError):
        fp.decode(np.array([1], dtype=np.int64), frac_bits=0, lower=0, upper=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fp.encode(np.array([1.0]), frac_bits=1.5, bound=2)
