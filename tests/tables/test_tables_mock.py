"""Mocks respect their card, are reproducible, and share nothing with the private table."""

from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from insitu.crypto.rng import DeterministicRng
from insitu.errors import InvalidInput
from insitu.examples import person_register
from insitu.tables.card import Card
from insitu.tables.dtypes import pandas_dtypes
from insitu.tables.ingest import ingest
from insitu.tables.mock import make_mock
from insitu.tables.read import read_table
from insitu.tables.variates import Variates

NAMES = ["age", "income", "household_size", "region", "c1", "c2", "value_eur", "born", "x"]


@st.composite
def columns(draw: st.DrawFn, name: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "float", "category", "string", "boolean", "date"]))
    col: dict[str, Any] = {"name": name, "type": kind, "nullable": draw(st.booleans())}
    if kind == "integer":
        lo = draw(st.none() | st.integers(-(10**9), 10**9))
        hi = draw(st.none() | st.integers(-(10**9), 10**9))
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        col |= {"lower": lo, "upper": hi}
    elif kind == "float":
        finite = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
        lo, hi = draw(st.none() | finite), draw(st.none() | finite)
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        col |= {"lower": lo, "upper": hi}
    elif kind == "category":
        text = st.text(string.ascii_letters + "äöüé東 -", min_size=1, max_size=8)
        col["categories"] = draw(st.lists(text, min_size=1, max_size=8, unique=True))
    return col


@st.composite
def cards(draw: st.DrawFn) -> Card:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True))
    cols = [draw(columns(n)) for n in names]
    mapping: dict[str, Any] = {"name": "mocked", "columns": cols}
    unit_candidates = [c for c in cols if c["type"] in ("integer", "string", "category")]
    if unit_candidates and draw(st.booleans()):
        unit = draw(st.sampled_from(unit_candidates))
        unit["nullable"] = False
        mapping["privacy_unit"] = {"column": unit["name"], "max_rows": draw(st.integers(1, 3))}
    return Card.from_mapping(mapping)


def check_respects(card: Card, frame: pd.DataFrame, rows: int) -> None:
    assert len(frame) == rows
    assert list(frame.columns) == card.column_names
    assert {n: str(t) for n, t in frame.dtypes.items()} == pandas_dtypes(card)
    for col in card.columns:
        s = frame[col.name]
        if not col.nullable:
            assert not s.isna().any(), col.name
        present = s.dropna()
        if col.lower is not None:
            assert (present >= col.lower).all(), col.name
        if col.upper is not None:
            assert (present <= col.upper).all(), col.name
        if col.categories is not None:
            assert set(present) <= set(col.categories)
    if card.privacy_unit is not None and rows:
        counts = frame[card.privacy_unit.column].value_counts()
        assert counts.max() <= card.privacy_unit.max_rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(card=cards(), rows=st.integers(0, 300))
def test_mock_respects_any_card_and_ingests_cleanly(card: Card, rows: int) -> None:
    try:
        frame = make_mock(card, rows=rows)
    except InvalidInput:
        # Only when the privacy unit's declared domain cannot hold enough distinct ids.
        assert card.privacy_unit is not None
        unit = card.column(card.privacy_unit.column)
        assume(False)
        assert unit.categories is not None or unit.bounded
        return
    check_respects(card, frame, rows)
    assert make_mock(card, rows=rows).equals(frame)  # reproducible from the card alone
    if rows == 0:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in (("mock.parquet", frame.to_parquet), ("mock.csv", frame.to_csv)):
            src, dest = Path(tmp) / name, Path(tmp) / f"{name}.out.parquet"
            write(src, index=False)
            assert ingest(src, card, dest).rows == rows
            pd.testing.assert_frame_equal(read_table(dest), frame)


def test_different_seeds_give_different_mocks() -> None:
    card = Card.from_mapping({"name": "t", "columns": [{"name": "x", "type": "float"}]})
    a = make_mock(card, rows=50, seed=b"one")
    b = make_mock(card, rows=50, seed=b"two")
    assert not a.equals(b)
    assert make_mock(card, rows=50, seed=b"one").equals(a)


def test_mock_shares_no_row_with_the_private_table(tmp_path: Path) -> None:
    example = person_register(tmp_path, rows=5_000)
    table = example.table("persons")
    private = pd.read_csv(table.csv)
    mock = make_mock(table.load_card(), rows=5_000)
    check_respects(table.load_card(), mock, 5_000)
    both = private.merge(mock.astype(private.dtypes.to_dict()), how="inner")
    assert both.empty
    # Plausible shapes: incomes skewed right, all regions and both sexes present.
    income = mock["income"].dropna()
    assert income.mean() > income.median()
    assert set(mock["region"]) == set(table.load_card().column("region").categories or [])
    assert mock["person_id"].is_unique


def test_unit_with_too_small_a_domain_is_refused() -> None:
    card = Card.from_mapping(
        {
            "name": "t",
            "privacy_unit": {"column": "id", "max_rows": 1},
            "columns": [{"name": "id", "type": "integer", "lower": 1, "upper": 10}],
        }
    )
    assert make_mock(card, rows=10)["id"].is_unique
    with pytest.raises(InvalidInput, match="distinct ids"):
        make_mock(card, rows=11)


def test_bad_arguments() -> None:
    card = Card.from_mapping({"name": "t", "columns": [{"name": "x", "type": "float"}]})
    with pytest.raises(TypeError):
        make_mock(card, rows=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        make_mock(card, rows=-1)
    with pytest.raises(TypeError):
        make_mock(card, seed="text")  # type: ignore[arg-type]


def test_variates_are_uniform_and_reproducible() -> None:
    v = Variates(DeterministicRng(b"seed"))
    u = v.uniform(20_000)
    assert ((u >= 0) & (u < 1)).all()
    assert abs(u.mean() - 0.5) < 0.01
    z = Variates(DeterministicRng(b"seed")).normal(20_000)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    ints = v.integers(3, 5, 3_000)
    assert set(np.unique(ints)) == {3, 4, 5}
    picks = v.choice([1.0, 0.0, 3.0], 4_000)
    assert 1 not in set(picks) and 0.7 < (picks == 2).mean() < 0.8
    assert sorted(v.permutation(10)) == list(range(10))
    with pytest.raises(ValueError):
        v.choice([], 1)
