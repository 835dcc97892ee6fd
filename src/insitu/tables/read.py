"""Read registered Parquet tables with DuckDB: rows as pandas, schema, embedded card."""

# SQL is built from names and values only through duck.ident/literal.
# ruff: noqa: S608

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from insitu.errors import InvalidInput, NotFound
from insitu.tables.card import Card
from insitu.tables.dtypes import conform
from insitu.tables.duck import connect, ident, literal
from insitu.tables.ingest import CARD_METADATA_KEY


def _parquet(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"no table file at {p}")
    return f"read_parquet({literal(p)})"


def _schema(con: duckdb.DuckDBPyConnection, path: str | Path) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {_parquet(path)}").fetchall()
    except duckdb.Error as exc:
        raise InvalidInput(f"{Path(path).name} is not a readable Parquet table") from exc
    return {str(r[0]): str(r[1]) for r in rows}


def _card(con: duckdb.DuckDBPyConnection, path: str | Path) -> Card | None:
    rows = con.execute(
        "SELECT value FROM parquet_kv_metadata(?) WHERE key = ?",
        [str(path), CARD_METADATA_KEY.encode()],
    ).fetchall()
    if not rows:
        return None
    value = rows[0][0]
    return Card.from_text(value.decode() if isinstance(value, bytes) else str(value))


def table_schema(path: str | Path) -> dict[str, str]:
    """Column name to DuckDB type (``BIGINT``, ``DOUBLE``, ``VARCHAR``…), in file order."""
    with connect(threads=1) as con:
        return _schema(con, path)


def table_card(path: str | Path) -> Card | None:
    """The card stored in the table's Parquet metadata at ingest, if any."""
    with connect(threads=1) as con:
        _schema(con, path)
        return _card(con, path)


def read_table(
    path: str | Path, columns: list[str] | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Rows of a Parquet table in file order, as a DataFrame.

    Parameters
    ----------
    path:
        A Parquet file, normally one written by :func:`insitu.tables.ingest.ingest`.
    columns:
        Which columns, in this order; all when ``None``. Unknown names raise
        :class:`NotFound` listing the known ones.
    limit:
        At most this many rows (from the start); all when ``None``.

    When the file carries its card, columns get the card's dtypes
    (:func:`insitu.tables.dtypes.pandas_dtypes`), the same as mocks have.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise TypeError("limit must be an int or None")
    if limit is not None and limit < 0:
        raise InvalidInput("limit must be non-negative")
    with connect() as con:
        schema = _schema(con, path)
        if columns is not None:
            unknown = [c for c in columns if c not in schema]
            if unknown:
                raise NotFound(
                    f"unknown column(s) {', '.join(map(repr, unknown))}; "
                    f"known columns: {', '.join(schema)}"
                )
        chosen = list(schema) if columns is None else list(columns)
        sql = f"SELECT {', '.join(ident(c) for c in chosen)} FROM {_parquet(path)}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        frame = con.execute(sql).df()
        card = _card(con, path)
    return conform(frame, card) if card is not None else frame
