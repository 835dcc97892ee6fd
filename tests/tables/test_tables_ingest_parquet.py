"""Ingesting Parquet files: lossless type conversion, violations with row numbers, bad files."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from insitu.errors import CardViolation, InvalidInput
from insitu.tables.card import Card
from insitu.tables.ingest import ingest
from insitu.tables.read import read_table, table_schema

CARD = Card.from_mapping(
    {
        "name": "t",
        "columns": [
            {"name": "n", "type": "integer", "lower": 0, "upper": 100},
            {"name": "x", "type": "float", "nullable": True},
            {"name": "c", "type": "category", "categories": ["a", "b"]},
            {"name": "d", "type": "date"},
            {"name": "ok", "type": "boolean"},
        ],
    }
)


def write(tmp_path: Path, table: pa.Table, name: str = "in.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def test_narrower_and_wider_types_convert_losslessly(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ok": pa.array([True, False]),
            "n": pa.array([1.0, 100.0], pa.float32()),  # whole floats are fine integers
            "x": pa.array([1, None], pa.int16()),
            "c": pa.array(["a", "b"]).dictionary_encode(),
            "d": pa.array([datetime(2020, 1, 1), datetime(2021, 6, 30)], pa.timestamp("ms")),
        }
    )
    dest = tmp_path / "out.parquet"
    report = ingest(write(tmp_path, table), CARD, dest)
    assert report.rows == 2 and report.source_format == "parquet"
    assert table_schema(dest) == {
        "n": "BIGINT", "x": "DOUBLE", "c": "VARCHAR", "d": "DATE", "ok": "BOOLEAN"
    }  # fmt: skip
    got = read_table(dest)
    assert got["n"].tolist() == [1, 100]
    assert got["x"].tolist()[0] == 1.0
    assert got["d"].dt.date.tolist() == [date(2020, 1, 1), date(2021, 6, 30)]


def test_lossy_conversions_are_violations_not_rounding(tmp_path: Path) -> None:
    table = pa.table(
        {
            "n": pa.array([1.0, 2.5, 3.0]),
            "x": pa.array([0.5, 1.5, 2.5]),
            "c": pa.array(["a", "c", "b"]),
            "d": pa.array([datetime(2020, 1, 1), datetime(2020, 1, 1, 12), datetime(2020, 1, 2)]),
            "ok": pa.array([True, None, False]),
        }
    )
    dest = tmp_path / "out.parquet"
    with pytest.raises(CardViolation) as info:
        ingest(write(tmp_path, table), CARD, dest)
    cells = {(e["row"], e["column"], e["kind"]) for e in info.value.details["examples"]}
    assert cells == {
        (2, "n", "wrong_type"),
        (2, "c", "not_a_declared_category"),
        (2, "d", "wrong_type"),
        (2, "ok", "null_in_non_nullable_column"),
    }
    assert info.value.details["violating_rows"] == 1
    assert not dest.exists()


def test_parquet_missing_and_extra_columns(tmp_path: Path) -> None:
    table = pa.table({"n": [1], "x": [1.0], "c": ["a"], "d": [date(2020, 1, 1)], "extra": [1]})
    with pytest.raises(CardViolation) as info:
        ingest(write(tmp_path, table), CARD, tmp_path / "out.parquet")
    kinds = sorted(p["kind"] for p in info.value.details["problems"])
    assert kinds == ["missing_column", "unknown_column"]


def test_truncated_and_mislabelled_parquet(tmp_path: Path) -> None:
    good = write(tmp_path, pa.table({"n": [1]}))
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(InvalidInput, match="not a complete Parquet"):
        ingest(cut, CARD, tmp_path / "out.parquet")
    fake = tmp_path / "fake.parquet"
    fake.write_text("n\n1\n")
    with pytest.raises(InvalidInput, match="not a Parquet file"):
        ingest(fake, CARD, tmp_path / "out.parquet")
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(InvalidInput, match="not a readable Parquet"):
        ingest(corrupt, CARD, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_empty_parquet_table_is_refused(tmp_path: Path) -> None:
    schema = pa.schema(
        [("n", pa.int64()), ("x", pa.float64()), ("c", pa.string()), ("d", pa.date32()),
         ("ok", pa.bool_())]
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="no data rows"):
        ingest(write(tmp_path, schema.empty_table()), CARD, tmp_path / "out.parquet")


def test_parquet_keeps_empty_strings_apart_from_missing(tmp_path: Path) -> None:
    card = Card.from_mapping(
        {"name": "s", "columns": [{"name": "s", "type": "string", "nullable": True}]}
    )
    ingest(write(tmp_path, pa.table({"s": ["", None, "x"]})), card, tmp_path / "out.parquet")
    got = read_table(tmp_path / "out.parquet")["s"].tolist()
    assert got[0] == "" and got[1] is not None and pd.isna(got[1]) and got[2] == "x"


def test_nested_and_binary_columns_are_wrong_types(tmp_path: Path) -> None:
    card = Card.from_mapping(
        {
            "name": "s",
            "columns": [
                {"name": "s", "type": "string"},
                {"name": "n", "type": "integer", "nullable": True},
            ],
        }
    )
    table = pa.table({"s": pa.array([[1, 2], [3]]), "n": pa.array([b"1", None])})
    with pytest.raises(CardViolation) as info:
        ingest(write(tmp_path, table), card, tmp_path / "out.parquet")
    kinds = {(p["column"], p["kind"]) for p in info.value.details["problems"]}
    assert kinds == {("s", "wrong_type"), ("n", "wrong_type")}
