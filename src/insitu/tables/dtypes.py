"""The pandas dtypes a card's columns have, for private tables and mocks alike."""

from __future__ import annotations

import pandas as pd

from insitu.tables.card import Card, Column, ColumnType


def pandas_dtype(col: Column) -> str:
    """The pandas dtype of one card column.

    Nullable integers and booleans use pandas' masked dtypes (``Int64``,
    ``boolean``) so a missing value never turns an integer column into floats.
    """
    if col.type is ColumnType.INTEGER:
        return "Int64" if col.nullable else "int64"
    if col.type is ColumnType.FLOAT:
        return "float64"
    if col.type is ColumnType.BOOLEAN:
        return "boolean" if col.nullable else "bool"
    if col.type is ColumnType.DATE:
        return "datetime64[us]"
    return "str"


def pandas_dtypes(card: Card) -> dict[str, str]:
    """Column name to pandas dtype, in the card's order."""
    return {c.name: pandas_dtype(c) for c in card.columns}


def conform(frame: pd.DataFrame, card: Card) -> pd.DataFrame:
    """``frame`` with every card column present in it cast to the card's dtype."""
    wanted = {n: t for n, t in pandas_dtypes(card).items() if n in frame.columns}
    return frame.astype(wanted)
