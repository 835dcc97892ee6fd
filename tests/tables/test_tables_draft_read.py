"""Card drafts (types only, categories on request) and the read helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from insitu.errors import InvalidInput, NotFound
from insitu.tables.card import Card, ColumnType
from insitu.tables.draft import draft_card
from insitu.tables.ingest import ingest
from insitu.tables.read import read_table, table_card

CSV = (
    "person_id,age,income,region,born,member\n"
    "1,34,52000.5,Nord,1990-04-01,true\n"
    "2,99,,Süd,1950-01-01,false\n"
)


def test_draft_lists_types_and_no_bounds(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(CSV, encoding="utf-8")
    draft = draft_card(src, "people", privacy_unit="person_id")
    card = draft.card
    assert [(c.name, c.type) for c in card.columns] == [
        ("person_id", ColumnType.INTEGER),
        ("age", ColumnType.INTEGER),
        ("income", ColumnType.FLOAT),
        ("region", ColumnType.STRING),
        ("born", ColumnType.DATE),
        ("member", ColumnType.BOOLEAN),
    ]
    assert all(c.lower is None and c.upper is None for c in card.columns)
    assert card.column("income").nullable and not card.column("age").nullable
    text = draft.to_yaml()
    assert text.startswith("# DRAFT") and "no bounds were inferred" in text
    assert Card.from_text(text) == card
    # The draft is a valid card for the same file.
    assert ingest(src, card, tmp_path / "p.parquet").rows == 2


def test_categories_only_on_request_and_flagged(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(CSV, encoding="utf-8")
    draft = draft_card(src, "people", categories_for=["region"])
    assert draft.card.column("region").categories == ["Nord", "Süd"]
    assert any("private data" in n for n in draft.notes)
    assert "private data" in draft.to_yaml()
    with pytest.raises(InvalidInput, match="more than 1 distinct"):
        draft_card(src, "people", categories_for=["region"], max_categories=1)
    with pytest.raises(InvalidInput, match="no column"):
        draft_card(src, "people", categories_for=["nope"])


def test_draft_refuses_unusable_names(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text("first name,age\nA,1\n")
    with pytest.raises(InvalidInput, match="rename"):
        draft_card(src, "people")


def test_read_table_columns_limit_and_errors(tmp_path: Path) -> None:
    src = tmp_path / "p.csv"
    src.write_text(CSV, encoding="utf-8")
    card = draft_card(src, "people").card
    dest = tmp_path / "p.parquet"
    ingest(src, card, dest)
    assert table_card(dest) == card
    part = read_table(dest, ["region", "age"], limit=1)
    assert list(part.columns) == ["region", "age"] and len(part) == 1
    assert str(read_table(dest)["member"].dtype) == "bool"
    with pytest.raises(NotFound, match="known columns"):
        read_table(dest, ["nope"])
    with pytest.raises(NotFound):
        read_table(tmp_path / "missing.parquet")
    with pytest.raises(InvalidInput):
        read_table(dest, limit=-1)
