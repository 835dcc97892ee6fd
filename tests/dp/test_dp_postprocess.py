"""Post-processing helpers: non-negativity, rounding, suppression, margins."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insitu.dp.postprocess import margin_sums, nonnegative, round_to, suppressed


def test_nonnegative_rounding_and_suppression() -> None:
    assert nonnegative([-2.0, 0.0, 3.5]) == [0.0, 0.0, 3.5]
    out = round_to([1.25, 2.5, math.nan], digits=1)
    assert out[:2] == [1.2, 2.5] and math.isnan(out[2])
    assert suppressed([1, 5, 10], below=5) == [True, False, False]
    with pytest.raises(ValueError):
        suppressed([1], below=math.inf)


cells = st.dictionaries(
    st.tuples(st.sampled_from("abc"), st.sampled_from("xy")),
    st.integers(-50, 500),
    min_size=1,
)


@given(cells)
def test_margins_add_up(table: dict[tuple[str, str], int]) -> None:
    named = {k: {"n": v, "h": [v, 2 * v]} for k, v in table.items()}
    rows = margin_sums(named, axes=[1], label="all")
    total = margin_sums(named, axes=[0, 1])
    ((tv, cells),) = total.values()
    assert tv["n"] == sum(table.values()) and cells == len(table)
    assert tv["h"] == [sum(table.values()), 2 * sum(table.values())]
    for (a, b), (v, n) in rows.items():
        assert b == "all"
        assert v["n"] == sum(x for (k, _), x in table.items() if k == a)
        assert n == sum(1 for k, _ in table if k == a)
