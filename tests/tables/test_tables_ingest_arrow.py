"""The Arrow CSV path takes only what the DuckDB path takes, and stores the same table."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from insitu.errors import CardViolation, InvalidInput
from insitu.tables import arrowcsv
from insitu.tables import ingest as ingest_module
from insitu.tables.arrowcsv import write_plain_csv
from insitu.tables.card import Card
from insitu.tables.ingest import CARD_METADATA_KEY, ingest
from insitu.tables.plaincsv import NotPlain, plain_blocks
from insitu.tables.read import read_table
from insitu.tables.units import integer_unit_bound

CARD = Card.from_mapping(
    {
        "name": "arrow",
        "privacy_unit": {"column": "id", "max_rows": 2},
        "columns": [
            {"name": "id", "type": "integer"},
            {"name": "n", "type": "integer", "lower": -5, "upper": 10, "nullable": True},
            {"name": "x", "type": "float", "lower": -5, "upper": 1e6, "nullable": True},
            {"name": "c", "type": "category", "categories": ["a", "b", "ü"]},
            {"name": "d", "type": "date", "nullable": True},
            {"name": "ok", "type": "boolean"},
            {"name": "s", "type": "string", "nullable": True},
        ],
    }
)
# Cells both paths must accept (the Arrow path may still hand some to DuckDB), then others.
VALID = {
    "id": ["7", "-3", "0", " 8 ", "007"],
    "n": ["-5", "10", "0", "", " 3 "],
    "x": ["1.5", " 1.5", ".5", "5.", "1e5", "-0.0", "", "1e-300"],
    "c": ["a", "b", "ü"],
    "d": ["2020-01-01", "1999-12-31", "", " 2020-01-01"],
    "ok": ["true", "false", "TRUE", "False"],
    "s": ["x", " y ", "é", "", "NA", "null", "0x1"],
}
OTHER = {
    "id": ["+5", "3.0", "3.5", "0x10", "1e2", "", "99999999999999999999", "abc"],
    "n": ["11", "-6", "0x3", "3.5"],
    "x": ["inf", "nan", "1e400", "abc", "1e7", "-6", "0x1p3"],
    "c": [" a", "A", "", "c"],
    "d": ["2020-1-2", "2001-02-30", "epoch", "2020-01-01 12:00"],
    "ok": ["t", "1", "yes", "", " true"],
    "s": ["x"],
}
PLAIN_CARD = Card.from_mapping(CARD.to_dict() | {"privacy_unit": None})


def _row(cells: dict[str, list[str]]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({k: st.sampled_from(v) for k, v in cells.items()})


ROWS = st.lists(
    st.one_of(_row(VALID), _row(VALID), _row(VALID), _row({k: VALID[k] + OTHER[k] for k in VALID})),
    min_size=1,
    max_size=6,
)


def reference(
    src: Path, card: Card, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> pd.DataFrame | str:
    """What the DuckDB path makes of ``src``: the table, or the error's details."""
    with monkeypatch.context() as m:
        m.setattr(ingest_module, "write_plain_csv", lambda *_args, **_kwargs: None)
        try:
            ingest(src, card, dest)
        except InvalidInput as exc:
            return f"{type(exc).__name__}: {exc.details}"
    return read_table(dest)


def outcome(src: Path, card: Card, dest: Path) -> pd.DataFrame | str:
    try:
        ingest(src, card, dest)
    except InvalidInput as exc:
        return f"{type(exc).__name__}: {exc.details}"
    return read_table(dest)


def same(a: pd.DataFrame | str, b: pd.DataFrame | str) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
    else:
        pd.testing.assert_frame_equal(a, b)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=ROWS,
    order=st.permutations(list(VALID)),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    block=st.sampled_from([1 << 20, 1, 40]),
)
def test_arrow_path_agrees_with_duckdb_path(
    rows: list[dict[str, str]], order: list[str], delimiter: str, newline: str, block: int
) -> None:
    text = delimiter.join(order) + newline
    text += newline.join(delimiter.join(r[n] for n in order) for r in rows) + newline
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(arrowcsv, "BLOCK_BYTES", block)  # one block, a line per block, or between
        src, fast = Path(tmp) / "in.csv", Path(tmp) / "fast.parquet"
        src.write_text(text, encoding="utf-8", newline="")
        written = write_plain_csv(
            src,
            PLAIN_CARD,
            fast,
            names=order,
            delimiter=delimiter,
            metadata={CARD_METADATA_KEY: PLAIN_CARD.to_json()},
            threads=1,
            report=lambda _done: None,
        )
        slow = reference(src, PLAIN_CARD, Path(tmp) / "slow.parquet", mp)
        event("arrow path took it" if written is not None else "arrow path handed it over")
        if written is not None:  # what the Arrow path takes, DuckDB takes, with the same values
            assert not isinstance(slow, str), slow
            same(read_table(fast), slow)
        fast.unlink(missing_ok=True)
        same(
            outcome(src, CARD, Path(tmp) / "out.parquet"),
            reference(src, CARD, Path(tmp) / "ref.parquet", mp),
        )


def test_a_plain_valid_file_takes_the_arrow_path(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(
        "s,ok,d,c,x,n,id\n"
        " y ,true,2020-01-01,ü,1.5,-5,1\n"
        ",FALSE,,a,,,2\n"
        "z,false,1999-12-31,b,-0.0,10,2\n",
        encoding="utf-8",
    )
    written = write_plain_csv(
        src,
        CARD,
        tmp_path / "fast.parquet",
        names=["s", "ok", "d", "c", "x", "n", "id"],
        delimiter=",",
        metadata={},
        threads=None,
        report=lambda _done: None,
    )
    assert written is not None and written.rows == 3
    assert written.unit_ids is not None and sorted(written.unit_ids.tolist()) == [1, 2, 2]
    ingest(src, CARD, tmp_path / "out.parquet")
    got = read_table(tmp_path / "out.parquet")
    assert got["c"].tolist() == ["ü", "a", "b"] and got["s"].tolist()[0] == " y "
    assert got["ok"].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("raw", "plain", "hex_prefix"),
    [
        (b"a,b\n1,2\n", True, False),
        (b"a,b\r\n1,2\r\n", True, False),
        (b"a,b\n1,0x2\n", True, True),
        (b"a,b\n1,0X2\n", True, True),
        (b"a,b\n1,x0\n", True, False),
        (b"\xef\xbb\xbfa,b\n1,2\n", True, False),
        (b'a,b\n1,"2"\n', False, False),
        (b"a,b\n1,2\r3,4\n", False, False),
        (b"a,b\n1,\x002\n", False, False),
        (b"a,b\n1,2\r", False, False),
    ],
    ids=["plain", "crlf", "hex", "HEX", "x0", "bom", "quote", "lone-cr", "nul", "cr-at-end"],
)
@pytest.mark.parametrize("size", [1, 3, 1 << 20])
def test_plain_blocks(tmp_path: Path, raw: bytes, plain: bool, hex_prefix: bool, size: int) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(raw)
    if not plain:
        with pytest.raises(NotPlain):
            list(plain_blocks(src, size))
        return
    seen, start = b"", 0
    found_hex = False
    for block in plain_blocks(src, size):
        text = bytes(block.data[: block.size])
        assert block.end == start + len(text)
        assert text.endswith(b"\n") or block.end == len(raw)  # whole lines only
        seen, start = seen + text, block.end
        found_hex = found_hex or block.hex_prefix
    assert seen == raw
    assert found_hex == hex_prefix


def test_a_byte_order_mark_at_a_later_block_is_not_plain(tmp_path: Path) -> None:
    """Arrow would drop it there; DuckDB keeps it in the cell."""
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n\xef\xbb\xbf1,2\n")
    assert len(list(plain_blocks(src, 1 << 20))) == 1  # inside a block Arrow keeps it
    with pytest.raises(NotPlain):
        list(plain_blocks(src, 2))


def test_a_line_longer_than_the_block_size(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    raw = b"a,b\n" + b"1," + b"9" * 1000 + b"\n3,4"
    src.write_bytes(raw)
    blocks = [bytes(b.data[: b.size]) for b in plain_blocks(src, 16)]
    assert blocks == [b"a,b\n", b"1," + b"9" * 1000 + b"\n", b"3,4"]


ID_TEXT = Card.from_mapping(
    {
        "name": "t",
        "columns": [{"name": "id", "type": "integer"}, {"name": "s", "type": "string"}],
    }
)

ID_UNIT = Card.from_mapping(ID_TEXT.to_dict() | {"privacy_unit": {"column": "id", "max_rows": 1}})


def _fast(src: Path, dest: Path, *, threads: int | None = None) -> arrowcsv.Written | None:
    """The Arrow path on ``src`` (columns id, s) with blocks of 8 bytes: about a line each."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(arrowcsv, "BLOCK_BYTES", 8)
        return write_plain_csv(
            src, ID_TEXT, dest, names=["id", "s"], delimiter=",", metadata={},
            threads=threads, report=lambda _done: None,
        )  # fmt: skip


def test_a_quote_in_a_later_block_hands_the_file_to_duckdb(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,s\n1,a\n2,b\n3,"c,d"\n', encoding="utf-8")
    assert _fast(src, tmp_path / "f.parquet", threads=1) is None
    assert _fast(src, tmp_path / "g.parquet") is None
    ingest(src, ID_TEXT, tmp_path / "out.parquet")
    assert read_table(tmp_path / "out.parquet")["s"].tolist() == ["a", "b", "c,d"]


def test_hex_in_a_later_block_is_refused_only_in_integer_columns(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,s\n1,a\n2,0x1\n10,b\n", encoding="utf-8")
    written = _fast(src, tmp_path / "f.parquet")
    assert written is not None and written.rows == 3
    assert read_table(tmp_path / "f.parquet")["id"].tolist() == [1, 2, 10]
    src.write_text("id,s\n1,a\n2,b\n0x10,c\n", encoding="utf-8")
    assert _fast(src, tmp_path / "g.parquet") is None
    with pytest.raises(CardViolation):  # the DuckDB path reports it as not an integer
        ingest(src, ID_TEXT, tmp_path / "out.parquet")


@pytest.mark.parametrize("text", ["id,ok\n1,true\n\n2,false\n", "id,ok\n1,true\n2,false\n\n"])
@pytest.mark.parametrize("block", [1, 12, 1 << 20])  # a block may start with the blank line
def test_blank_line_goes_to_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, block: int
) -> None:
    monkeypatch.setattr(arrowcsv, "BLOCK_BYTES", block)
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    card = Card.from_mapping(
        {
            "name": "t",
            "columns": [{"name": "id", "type": "integer"}, {"name": "ok", "type": "boolean"}],
        }
    )
    assert write_plain_csv(
        src, card, tmp_path / "f.parquet", names=["id", "ok"], delimiter=",",
        metadata={}, threads=1, report=lambda _done: None,
    ) is None  # fmt: skip


def test_integer_unit_bound_on_the_arrow_path(tmp_path: Path) -> None:
    card = Card.from_mapping(
        {
            "name": "t",
            "privacy_unit": {"column": "u", "max_rows": 1},
            "columns": [{"name": "u", "type": "integer"}, {"name": "x", "type": "integer"}],
        }
    )
    src = tmp_path / "in.csv"
    src.write_text("u,x\n5,1\n3,2\n5,3\n", encoding="utf-8")
    with pytest.raises(CardViolation) as info:
        ingest(src, card, tmp_path / "out.parquet")
    assert [e["value"] for e in info.value.details["examples"]] == ["5 (2 rows)"]
    assert info.value.details["rows_checked"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("cell", [b"\xff", b"a\xc3", b"0x\xff"])
def test_a_category_cell_that_is_not_utf8_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cell: bytes
) -> None:
    """The Arrow path skips its UTF-8 check when the card has no string column."""
    card = Card.from_mapping(
        {
            "name": "t",
            "columns": [
                {"name": "id", "type": "integer"},
                {"name": "c", "type": "category", "categories": ["a", "b"]},
            ],
        }
    )
    src = tmp_path / "in.csv"
    src.write_bytes(b"id,c\n1,a\n2," + cell + b"\n3,b\n")
    assert (
        write_plain_csv(
            src, card, tmp_path / "f.parquet", names=["id", "c"], delimiter=",",
            metadata={}, threads=None, report=lambda _done: None,
        )
        is None
    )  # fmt: skip
    same(
        outcome(src, card, tmp_path / "out.parquet"),
        reference(src, card, tmp_path / "ref.parquet", monkeypatch),
    )


@pytest.mark.parametrize(
    ("ids", "over"),
    [
        ([1, 2, 3, 10], None),  # in id order: no sort needed
        ([3, 1, 2], None),
        ([1, 2, 2, 3], ["2 (2 rows)"]),  # in order but one repeat
        ([5, 1, 5, 1, 5], ["5 (3 rows)", "1 (2 rows)"]),
        ([7], None),
        ([], None),
    ],
)
def test_integer_unit_bound_sorted_or_not(ids: list[int], over: list[str] | None) -> None:
    found = integer_unit_bound(ID_UNIT, np.array(ids, dtype=np.int64), limit=10, show_values=True)
    if over is None:
        assert found is None
    else:
        assert found is not None
        assert found[0].count == len(over)
        assert [e.value for e in found[1]] == over


def test_the_arrow_path_makes_no_duckdb_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**_kwargs: object) -> None:
        raise AssertionError("DuckDB connection made")

    monkeypatch.setattr(ingest_module, "connect", refuse)
    src = tmp_path / "in.csv"
    src.write_text("id,s\n1,a\n2,b\n", encoding="utf-8")
    assert ingest(src, ID_UNIT, tmp_path / "out.parquet").rows == 2
    src.write_text("id,s\n1,a\n1,b\n", encoding="utf-8")  # the unit bound needs no DuckDB either
    with pytest.raises(CardViolation):
        ingest(src, ID_UNIT, tmp_path / "out.parquet")
    src.write_text('id,s\n1,"a"\n', encoding="utf-8")  # the DuckDB path connects
    with pytest.raises(AssertionError, match="DuckDB connection made"):
        ingest(src, ID_UNIT, tmp_path / "out.parquet")
