"""Propose a card from a file's schema, for the owner to review and edit before publishing.

The draft lists column names and types only. It infers no bounds, because
bounds read off the data would publish private extremes (the oldest person,
the richest household). Categories are read from the data only for the
columns the owner names, and the draft says so.
"""

# SQL is built from names and values only through duck.ident/literal.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from insitu.errors import InvalidInput
from insitu.tables.card import NAME_PATTERN, Card, ColumnType
from insitu.tables.duck import connect, ident, literal
from insitu.tables.sniff import detect_format

MAX_DRAFT_CATEGORIES = 200

_WARNING = (
    "DRAFT card proposed by insitu from the file's schema. Review every line before "
    "publishing: the card is public. Types were read from the file; no bounds were "
    "inferred (add them yourself from public knowledge, not from the data)."
)


@dataclass(frozen=True)
class CardDraft:
    """A proposed card and the notes the owner must read before publishing it."""

    card: Card
    notes: list[str] = field(default_factory=list)

    def to_yaml(self) -> str:
        """The card as YAML, opening with the review notes as comments."""
        lines = [f"# {note}" for note in [_WARNING, *self.notes]]
        body = yaml.safe_dump(self.card.to_dict(), sort_keys=False, allow_unicode=True)
        return "\n".join(lines) + "\n" + body


def _card_type(duck_type: str) -> ColumnType:
    t = duck_type.upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"):
        return ColumnType.INTEGER
    if t in ("FLOAT", "DOUBLE", "REAL", "UBIGINT", "HUGEINT") or t.startswith("DECIMAL"):
        return ColumnType.FLOAT
    if t == "BOOLEAN":
        return ColumnType.BOOLEAN
    if t == "DATE":
        return ColumnType.DATE
    return ColumnType.STRING


def draft_card(
    source: Path,
    name: str,
    *,
    categories_for: Sequence[str] = (),
    privacy_unit: str | None = None,
    max_categories: int = MAX_DRAFT_CATEGORIES,
) -> CardDraft:
    """Propose a card for ``source`` (CSV or Parquet) named ``name``.

    Parameters
    ----------
    source:
        The private file.
    name:
        Dataset name for the card.
    categories_for:
        Columns to declare as categories, with the distinct values found in
        the data. These values come from private data: the owner asks for
        them explicitly and must check that publishing them is acceptable
        (a rare category can single out a person).
    privacy_unit:
        Column that identifies whom a row is about (``max_rows`` 1).
    max_categories:
        Refuse a category column with more distinct values than this.

    Returns
    -------
    CardDraft
        The card (names, types, nullability seen in the file; no bounds) and
        notes; ``to_yaml()`` writes it with the review warning on top.
    """
    source = Path(source)
    fmt = detect_format(source)
    reader = (
        f"read_parquet({literal(source)})"
        if fmt == "parquet"
        else f"read_csv({literal(source)}, header = true, auto_detect = true, sample_size = -1)"
    )
    with connect() as con:
        try:
            schema = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        except duckdb.Error as exc:
            raise InvalidInput(f"cannot read {source.name}: {str(exc).splitlines()[0]}") from None
        names = [str(r[0]) for r in schema]
        bad = [n for n in names if not NAME_PATTERN.match(n)]
        if bad:
            raise InvalidInput(
                "rename these columns to letters, digits and _ first: " + ", ".join(map(repr, bad))
            )
        unknown = [c for c in [*categories_for, privacy_unit] if c is not None and c not in names]
        if unknown:
            raise InvalidInput(f"no column(s) {', '.join(map(repr, unknown))} in {source.name}")
        nulls = con.execute(
            "SELECT "
            + ", ".join(f"count(*) - count({ident(n)})" for n in names)
            + f" FROM {reader}"
        ).fetchone()
        assert nulls is not None
        columns: list[dict[str, object]] = []
        notes: list[str] = []
        for (col_name, duck_type, *_), n_null in zip(schema, nulls, strict=True):
            column: dict[str, object] = {"name": str(col_name), "nullable": bool(n_null)}
            if col_name in categories_for:
                values = _categories(con, reader, str(col_name), max_categories)
                column |= {"type": "category", "categories": values}
                notes.append(
                    f"Column {col_name!r}: its {len(values)} categories were read from the "
                    "private data at your request; check that publishing each is acceptable."
                )
            else:
                column["type"] = _card_type(str(duck_type)).value
            columns.append(column)
    mapping: dict[str, object] = {"name": name, "columns": columns}
    if privacy_unit is not None:
        mapping["privacy_unit"] = {"column": privacy_unit, "max_rows": 1}
    return CardDraft(Card.from_mapping(mapping), notes)


def _categories(con: duckdb.DuckDBPyConnection, reader: str, column: str, limit: int) -> list[str]:
    col = ident(column)
    rows = con.execute(
        f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {reader} "
        f"WHERE {col} IS NOT NULL ORDER BY v LIMIT {int(limit) + 1}"
    ).fetchall()
    if len(rows) > limit:
        raise InvalidInput(
            f"column {column!r} has more than {limit} distinct values; "
            "it is not a category (declare it as string)"
        )
    if not rows:
        raise InvalidInput(f"column {column!r} has no values to make categories from")
    return [str(r[0]) for r in rows]
