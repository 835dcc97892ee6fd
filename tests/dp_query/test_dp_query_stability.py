"""One privacy unit moves every measurement by at most its declared sensitivity."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.computations.dp_query import compile_sql, execute, prepare_dataset
from insitu.computations.dp_query.measures import allocate
from insitu.tables.card import Card

CARD = Card.from_mapping(
    {
        "name": "t",
        "columns": [
            {"name": "uid", "type": "string"},
            {"name": "g", "type": "category", "categories": ["a", "b", "c"]},
            {"name": "x", "type": "integer", "lower": -10, "upper": 50},
        ],
        "privacy_unit": {"column": "uid", "max_rows": 2},
    }
)
PLAN = compile_sql("SELECT g, COUNT(*), SUM(x), AVG(x) FROM t GROUP BY g", CARD)
EXACT = 1e12

row = st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(-1000, 1000))
unit_rows = st.lists(row, min_size=1, max_size=6)
dataset = st.lists(unit_rows, min_size=1, max_size=8)


def _frame(units: list[list[tuple[str, int]]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"uid": f"u{i}", "g": g, "x": x} for i, rows in enumerate(units) for g, x in rows]
    )


def _release(df: pd.DataFrame, tmp: Path, name: str, prepared: bool) -> pd.DataFrame:
    path = tmp / f"{name}.parquet"
    df.to_parquet(path, index=False)
    if prepared:
        path = prepare_dataset(path, tmp / f"{name}_p.parquet", CARD)
    return execute(PLAN, path, CARD, rho=EXACT).table.set_index("g")


@settings(max_examples=12, deadline=None)
@given(dataset, unit_rows, st.booleans())
def test_adding_one_unit_moves_releases_within_sensitivity(
    units: list[list[tuple[str, int]]], extra: list[tuple[str, int]], prepared: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before = _release(_frame(units), Path(tmp), "d", prepared)
        after = _release(_frame([*units, extra]), Path(tmp), "d2", prepared)
    shares = {s.measurement.key: s.sensitivity for s in allocate(PLAN, CARD, epsilon=None, rho=1.0)}
    # L1 over all groups: at most k rows, each adding 1 to a count and at most 50 to the sum.
    assert (after["count"] - before["count"]).abs().sum() <= shares["count"] == 2
    assert (after["sum_x"] - before["sum_x"]).abs().sum() <= shares["sum:x"] == 2 * 50
    # The other units' kept rows did not change: the change is one unit's (≤ k) clamped rows.
    assert 1 <= (after["count"] - before["count"]).sum() <= min(len(extra), 2)


FCARD = Card.from_mapping(
    {
        "name": "f",
        "columns": [
            {"name": "uid", "type": "string"},
            {"name": "v", "type": "float", "lower": -2.5, "upper": 7.25},
        ],
        "privacy_unit": {"column": "uid", "max_rows": 1},
    }
)
FPLAN = compile_sql("SELECT SUM(v), AVG(v), COUNT(*) FROM f", FCARD)
values = st.lists(
    st.one_of(
        st.floats(-1e12, 1e12, allow_nan=False),
        st.sampled_from([float("inf"), float("-inf"), -2.5, 7.25, 0.0]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=15, deadline=None)
@given(values)
def test_values_are_clamped_to_the_declared_bounds(vs: list[float]) -> None:
    df = pd.DataFrame({"uid": [f"u{i}" for i in range(len(vs))], "v": vs})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.parquet"
        df.to_parquet(path, index=False)
        row = execute(FPLAN, path, FCARD, rho=1e16).table.iloc[0]  # noise ≪ one grid step
    clipped = np.clip(np.array(vs), -2.5, 7.25)
    step = 9.75 / 2**20  # at most half a grid step of rounding per value
    assert row["sum_v"] == pytest.approx(clipped.sum(), abs=len(vs) * step)
    assert -2.5 <= row["mean_v"] <= 7.25
    assert row["count"] == len(vs)
