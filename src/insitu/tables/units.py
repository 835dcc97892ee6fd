"""The contribution bound: no privacy unit may have more rows than the card's ``max_rows``.

DP queries rely on this bound, so ingest checks it on every table. Integer
ids of tables up to :data:`SORT_MAX_ROWS` rows are checked by sorting them
in memory (8 bytes per row, much cheaper than a hash aggregate); other
tables use DuckDB's grouping, which spills to disk past its memory limit.
Ids already in memory (the Arrow CSV path collects them while writing) go
straight to :func:`integer_unit_bound`.
"""

# SQL is built from names only through duck.ident; the relation comes from checks.Plan.
# ruff: noqa: S608

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from insitu.tables.card import Card
from insitu.tables.report import Example, Kind, Problem

if TYPE_CHECKING:  # imported by whoever makes the connection
    import duckdb

SORT_MAX_ROWS = 20_000_000

Found = tuple[Problem, list[Example]]


def unit_bound(
    con: duckdb.DuckDBPyConnection,
    card: Card,
    *,
    relation: str,
    unit: str,
    integer: bool,
    rows: int | None,
    limit: int,
    show_values: bool,
) -> Found | None:
    """Units of ``relation`` (SQL) whose column ``unit`` (SQL) repeats more than ``max_rows``.

    ``integer`` says the unit column is BIGINT; ``rows`` is the row count when
    known. Returns the problem and up to ``limit`` examples (largest first),
    or ``None`` when the bound holds or the card names no privacy unit.
    """
    if card.privacy_unit is None:
        return None
    max_rows = card.privacy_unit.max_rows
    if integer and rows is not None and rows <= SORT_MAX_ROWS:
        ids = con.execute(f"SELECT {unit} FROM ({relation}) WHERE {unit} IS NOT NULL").fetchnumpy()
        return integer_unit_bound(
            card, np.asarray(next(iter(ids.values())), dtype=np.int64), limit, show_values
        )
    grouped = (
        f"SELECT {unit} AS unit, count(*) AS n FROM ({relation}) "
        f"WHERE {unit} IS NOT NULL GROUP BY {unit} HAVING count(*) > {int(max_rows)}"
    )
    found = con.execute(f"SELECT count(*) FROM ({grouped})").fetchone()
    n_units = int(found[0]) if found else 0
    top = []
    if n_units and limit > 0:
        top = [
            (str(v), int(n))
            for v, n in con.execute(
                f"SELECT CAST(unit AS VARCHAR), n FROM ({grouped}) "
                f"ORDER BY n DESC, unit LIMIT {int(limit)}"
            ).fetchall()
        ]
    return _found(card, n_units, top, show_values)


def integer_unit_bound(card: Card, ids: np.ndarray, limit: int, show_values: bool) -> Found | None:
    """The contribution bound over integer unit ids (NULLs left out), by sorting them.

    Same result as :func:`unit_bound`. Sorts ``ids`` in place, unless they
    are strictly increasing already (a file in id order): then every unit
    has one row.
    """
    if card.privacy_unit is None or ids.size < 2 or bool((ids[1:] > ids[:-1]).all()):
        return None
    max_rows = card.privacy_unit.max_rows
    ids.sort()
    repeated = ids[1:] == ids[:-1]
    if not repeated.any():  # every unit has one row, within any bound
        return None
    starts = np.flatnonzero(np.r_[True, ~repeated, True])
    values, counts = ids[starts[:-1]], np.diff(starts)
    over = counts > max_rows
    n_units = int(over.sum())
    order = np.lexsort((values[over], -counts[over]))[: max(limit, 0)]
    top = [(str(int(values[over][i])), int(counts[over][i])) for i in order]
    return _found(card, n_units, top, show_values)


def _found(card: Card, n_units: int, top: list[tuple[str, int]], show_values: bool) -> Found | None:
    if not n_units or card.privacy_unit is None:
        return None
    column = card.privacy_unit.column
    max_rows = card.privacy_unit.max_rows
    rule = f"has units with more than {max_rows} row(s), the card's contribution bound"
    examples = [
        Example(
            None, column, Kind.TOO_MANY_ROWS_PER_UNIT, f"{v} ({n} rows)" if show_values else None
        )
        for v, n in top
    ]
    return Problem(column, Kind.TOO_MANY_ROWS_PER_UNIT, rule, n_units), examples
