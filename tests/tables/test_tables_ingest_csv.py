"""Ingesting CSV files: malformed files, card violations, and exact round trips."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from insitu.errors import CardViolation, InvalidInput
from insitu.tables.card import Card
from insitu.tables.ingest import ingest
from insitu.tables.read import read_table, table_card, table_schema

CARD = Card.from_mapping(
    {
        "name": "people",
        "privacy_unit": {"column": "id", "max_rows": 1},
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "age", "type": "integer", "lower": 0, "upper": 120},
            {"name": "region", "type": "category", "categories": ["Nord", "Süd", "Ost"]},
            {"name": "income", "type": "float", "lower": 0, "upper": 1e6, "nullable": True},
            {"name": "born", "type": "date", "nullable": True},
            {"name": "member", "type": "boolean"},
            {"name": "note", "type": "string", "nullable": True},
        ],
    }
)
HEADER = "id,age,region,income,born,member,note\n"
GOOD_ROWS = [
    "1,34,Nord,52000.5,1990-04-01,true,first",
    "2,0,Süd,,2024-12-31,false,",
    '3,120,Ost,0,,true,"with, comma and ""quotes"""',
    "4,77,Nord,999999.99,1947-02-28,false,Zoë Ünal – 東京",
]


def write(tmp_path: Path, text: str | bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "in.csv")


def violation(tmp_path: Path, text: str, card: Card = CARD) -> CardViolation:
    dest = tmp_path / "out.parquet"
    with pytest.raises(CardViolation) as info:
        ingest(write(tmp_path, text), card, dest)
    assert not dest.exists()
    assert leftovers(tmp_path) == []
    return info.value


def test_valid_csv_round_trips_exactly(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    seen: list[int] = []
    report = ingest(
        write(tmp_path, HEADER + "\n".join(GOOD_ROWS) + "\n"), CARD, dest, progress=seen.append
    )
    assert report.rows == 4
    assert report.bytes == dest.stat().st_size
    assert len(report.sha256) == 64 and report.source_format == "csv"
    assert seen[-1] == 100 and seen == sorted(seen)
    assert table_schema(dest) == {
        "id": "BIGINT", "age": "BIGINT", "region": "VARCHAR", "income": "DOUBLE",
        "born": "DATE", "member": "BOOLEAN", "note": "VARCHAR",
    }  # fmt: skip
    assert table_card(dest) == CARD
    got = read_table(dest)
    assert got["id"].tolist() == [1, 2, 3, 4]
    assert got["region"].tolist() == ["Nord", "Süd", "Ost", "Nord"]
    assert got["income"].tolist()[0] == 52000.5 and pd.isna(got["income"][1])
    assert got["born"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["1990-04-01", "2024-12-31"]
    assert pd.isna(got["born"][2])
    assert got["member"].tolist() == [True, False, True, False]
    assert got["note"].tolist()[2:] == ['with, comma and "quotes"', "Zoë Ünal – 東京"]
    assert pd.isna(got["note"][1])


def test_dataframe_round_trip_through_csv_is_exact(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": [10, 11, 12],
            "age": [1, 2, 3],
            "region": ["Ost", "Ost", "Süd"],
            "income": [0.1, 1 / 3, 123456.789012345],
            "born": pd.to_datetime(["2000-01-01", "1999-12-31", "1970-01-01"]),
            "member": [True, False, True],
            "note": ["a", "b", "c"],
        }
    )
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    ingest(src, CARD, tmp_path / "out.parquet")
    got = read_table(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    assert got["income"].tolist() == frame["income"].tolist()  # bit-exact floats


def test_columns_may_come_in_any_order_and_semicolons(tmp_path: Path) -> None:
    text = "note;member;born;income;region;age;id\nx;true;;1.5;Ost;5;9\n"
    ingest(write(tmp_path, text), CARD, tmp_path / "out.parquet")
    got = read_table(tmp_path / "out.parquet")
    assert list(got.columns) == CARD.column_names
    assert got.iloc[0]["age"] == 5 and got.iloc[0]["note"] == "x"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02garbage\xff\xfe" * 50, "binary"),
        (b"id,age\n1,\xff\xfe\n", "not UTF-8"),
        (HEADER + "1,34,Nord,1,2000-01-01,true,x\n2,35,Nord\n", "malformed CSV"),
        (HEADER + "1,34,Nord,1,2000-01-01,true,x,extra\n", "malformed CSV"),
        (HEADER + '1,34,Nord,1,2000-01-01,true,"unterminated\n2,3,Ost,1,,true,x\n', "malformed"),
        (HEADER, "no data rows"),
        ("\n\n", "no header"),
    ],
    ids=[
        "empty",
        "binary",
        "latin1",
        "ragged-short",
        "ragged-long",
        "bad-quote",
        "header-only",
        "blank",
    ],
)
def test_malformed_files_are_refused_and_leave_nothing(
    tmp_path: Path, text: str | bytes, fragment: str
) -> None:
    dest = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput) as info:
        ingest(write(tmp_path, text), CARD, dest)
    assert not isinstance(info.value, CardViolation)
    assert fragment in info.value.message
    assert not dest.exists() and leftovers(tmp_path) == []


def test_ragged_row_names_its_line(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    text = HEADER + "\n".join(GOOD_ROWS) + "\n5,35,Nord\n"
    with pytest.raises(InvalidInput) as info:
        ingest(write(tmp_path, text), CARD, dest)
    assert [d["line"] for d in info.value.details["lines"]] == [6]
    assert "line 6" in info.value.message


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    err = violation(tmp_path, "id,age,region,income,born,member,nickname\n1,2,Ost,1,,true,x\n")
    kinds = {(p["column"], p["kind"]) for p in err.details["problems"]}
    assert kinds == {("note", "missing_column"), ("nickname", "unknown_column")}
    assert "'note'" in err.message and "'nickname'" in err.message


def test_every_kind_of_cell_violation_is_counted_and_located(tmp_path: Path) -> None:
    rows = [
        "1,34,Nord,1,2000-01-01,true,ok",  # row 1 fine
        "2,3.5,Nord,1,,true,x",  # row 2: 3.5 is not an integer (never rounded)
        "3,121,Nord,1,,true,x",  # row 3: out of bounds
        "4,-1,West,1,,true,x",  # row 4: out of bounds and undeclared category
        "5,,Ost,1,,true,x",  # row 5: null in non-nullable
        "6,40,Ost,abc,,true,x",  # row 6: wrong type float
        "7,40,Ost,1,2001-02-30,true,x",  # row 7: impossible date
        "8,40,Ost,1,,maybe,x",  # row 8: not a boolean
        "9,40,Ost,nan,,true,x",  # row 9: NaN
        "9,41,Ost,1,,true,x",  # row 10: unit 9 has two rows
        "11,40,süd,1,,true,x",  # row 11: categories are case-sensitive
    ]
    err = violation(tmp_path, HEADER + "\n".join(rows) + "\n")
    d = err.details
    assert d["rows_checked"] == 11 and d["violating_rows"] == 9
    counts = {(p["column"], p["kind"]): p["count"] for p in d["problems"]}
    assert counts == {
        ("age", "wrong_type"): 1,
        ("age", "null_in_non_nullable_column"): 1,
        ("age", "out_of_bounds"): 2,
        ("region", "not_a_declared_category"): 2,
        ("income", "wrong_type"): 1,
        ("income", "not_a_number"): 1,
        ("born", "wrong_type"): 1,
        ("member", "wrong_type"): 1,
        ("id", "too_many_rows_per_privacy_unit"): 1,
    }
    cells = {(e["row"], e["column"], e["kind"]): e["value"] for e in d["examples"]}
    assert cells[(2, "age", "wrong_type")] == "3.5"
    assert cells[(3, "age", "out_of_bounds")] == "121"
    assert cells[(4, "region", "not_a_declared_category")] == "West"
    assert cells[(5, "age", "null_in_non_nullable_column")] is None
    assert cells[(7, "born", "wrong_type")] == "2001-02-30"
    assert cells[(None, "id", "too_many_rows_per_privacy_unit")] == "9 (2 rows)"
    assert "9 of 11 rows" in err.message and "first rows: 3, 4" in err.message
    assert "West" not in err.message  # values only in details, for the owner


def test_values_can_be_left_out_and_examples_capped(tmp_path: Path) -> None:
    rows = [f"{i},{200 + i},Nord,1,,true,x" for i in range(1, 51)]
    dest = tmp_path / "out.parquet"
    with pytest.raises(CardViolation) as info:
        ingest(
            write(tmp_path, HEADER + "\n".join(rows) + "\n"),
            CARD,
            dest,
            max_violations_reported=5,
            show_values=False,
        )
    d = info.value.details
    assert d["violating_rows"] == 50 and len(d["examples"]) == 5
    assert [e["row"] for e in d["examples"]] == [1, 2, 3, 4, 5]
    assert all(e["value"] is None for e in d["examples"])


def test_integer_text_forms(tmp_path: Path) -> None:
    card = Card.from_mapping({"name": "t", "columns": [{"name": "n", "type": "integer"}]})
    ingest(write(tmp_path, "n\n7\n+5\n-0\n3.0\n 8 \n"), card, tmp_path / "out.parquet")
    assert read_table(tmp_path / "out.parquet")["n"].tolist() == [7, 5, 0, 3, 8]
    for bad in ("1e2", "0x10", "99999999999999999999", "3.5"):
        (tmp_path / "out.parquet").unlink(missing_ok=True)
        err = violation(tmp_path, f"n\n1\n{bad}\n", card)
        assert err.details["examples"][0]["row"] == 2


def test_failure_keeps_an_existing_table(tmp_path: Path) -> None:
    dest = tmp_path / "out.parquet"
    ingest(write(tmp_path, HEADER + GOOD_ROWS[0] + "\n"), CARD, dest)
    before = dest.read_bytes()
    with pytest.raises(CardViolation):
        ingest(write(tmp_path, HEADER + "1,500,Nord,1,,true,x\n"), CARD, dest)
    assert dest.read_bytes() == before
    assert leftovers(tmp_path) == ["out.parquet"]


def test_same_content_same_hash(tmp_path: Path) -> None:
    src = write(tmp_path, HEADER + "\n".join(GOOD_ROWS) + "\n")
    a = ingest(src, CARD, tmp_path / "a.parquet")
    b = ingest(src, CARD, tmp_path / "b.parquet")
    assert a.sha256 == b.sha256


def test_bad_arguments(tmp_path: Path) -> None:
    src = write(tmp_path, HEADER + GOOD_ROWS[0] + "\n")
    with pytest.raises(TypeError):
        ingest(src, CARD.to_dict(), tmp_path / "o.parquet")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ingest(src, CARD, tmp_path / "missing" / "o.parquet")
    with pytest.raises(InvalidInput):
        ingest(tmp_path / "nope.csv", CARD, tmp_path / "o.parquet")
    with pytest.raises(InvalidInput):
        ingest(src, CARD, tmp_path / "o.parquet", max_violations_reported=0)


@pytest.mark.parametrize(
    ("raw", "ids", "names"),
    [
        (b"\xef\xbb\xbfid,name\r\n1,a\r\n2,b\r\n", [1, 2], ["a", "b"]),
        (b"id,name\n1,a\n2,b\n\n\n", [1, 2], ["a", "b"]),
        (b"id,name\n1,a\n2,b", [1, 2], ["a", "b"]),
        (b'"id","name"\n1,"a\nb"\n2,b\n', [1, 2], ["a\nb", "b"]),
        (b"id|name\n1|a\n", [1], ["a"]),
        (b'id,name\n1,""\n2,\n', [1, 2], [None, None]),
    ],
    ids=["bom-crlf", "trailing-blank-lines", "no-final-newline", "quoted-newline", "pipe", "empty"],
)
def test_csv_dialect_details(tmp_path: Path, raw: bytes, ids: list[int], names: list[str]) -> None:
    card = Card.from_mapping(
        {
            "name": "t",
            "columns": [
                {"name": "id", "type": "integer"},
                {"name": "name", "type": "string", "nullable": True},
            ],
        }
    )
    ingest(write(tmp_path, raw), card, tmp_path / "out.parquet")
    got = read_table(tmp_path / "out.parquet")
    assert got["id"].tolist() == ids
    assert [None if pd.isna(v) else v for v in got["name"]] == names


def test_lenient_parses_are_refused(tmp_path: Path) -> None:
    """DuckDB's reader alone would drop times, read words as dates and overflow to inf."""
    card = Card.from_mapping(
        {
            "name": "t",
            "columns": [
                {"name": "d", "type": "date"},
                {"name": "x", "type": "float"},
                {"name": "c", "type": "category", "categories": ["O'Brien", "a,b", "Süd"]},
            ],
        }
    )
    ok = 'd,x,c\n2020-01-01,1.5,O\'Brien\n2020-1-2,-0.0,"a,b"\n2020-01-03,1e300,Süd\n'
    ingest(write(tmp_path, ok), card, tmp_path / "out.parquet")
    assert read_table(tmp_path / "out.parquet")["c"].tolist() == ["O'Brien", "a,b", "Süd"]
    (tmp_path / "out.parquet").unlink()
    bad = "d,x,c\n2020-01-01 12:00,1,Süd\nepoch,1,Süd\ninfinity,1,Süd\n2020-01-04,1e400,Süd\n"
    err = violation(tmp_path, bad, card)
    cells = {(e["row"], e["column"], e["kind"]) for e in err.details["examples"]}
    assert cells == {
        (1, "d", "wrong_type"),
        (2, "d", "wrong_type"),
        (3, "d", "wrong_type"),
        (4, "x", "not_a_number"),
    }


@pytest.mark.parametrize("kind", ["integer", "string"])
def test_contribution_bound_alone(tmp_path: Path, kind: str) -> None:
    card = Card.from_mapping(
        {
            "name": "t",
            "privacy_unit": {"column": "u", "max_rows": 2},
            "columns": [{"name": "u", "type": kind}, {"name": "x", "type": "integer"}],
        }
    )
    rows = ["7,1", "7,2", "7,3", "5,4", "5,5", "9,6", "9,7", "9,8", "1,9"]
    err = violation(tmp_path, "u,x\n" + "\n".join(rows) + "\n", card)
    d = err.details
    assert d["rows_checked"] == 9
    assert d["problems"] == [
        {
            "column": "u",
            "kind": "too_many_rows_per_privacy_unit",
            "rule": "has units with more than 2 row(s), the card's contribution bound",
            "count": 2,
        }
    ]
    assert [e["value"] for e in d["examples"]] == ["7 (3 rows)", "9 (3 rows)"]
    assert "2 units" in err.message
