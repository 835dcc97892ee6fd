"""Lower a plan to ONE DuckDB statement over the dataset's Parquet, and prepare datasets.

The statement bounds each privacy unit to k rows, clamps values to the
card's bounds, puts them on the fixed-point grid and returns, per group,
only the integer aggregates the measurements need; the noise is added in
Python afterwards. Rows are kept per unit by ``ROW_NUMBER() OVER
(PARTITION BY unit ORDER BY hash(row))``: the choice depends only on that
unit's own rows, never on other units or on the order of the file, so
adding or removing one unit changes at most k rows of the bounded table.

:func:`prepare_dataset` does the bounding and the grid encoding once, when
a dataset is stored, and marks the Parquet file so that queries over it
skip both: the kept rows are the same, so releases are identical in
distribution, and queries then cost about as much as plain DuckDB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from insitu.computations.dp_query.measures import Grid, MKind, grid_for, max_rows, measurements
from insitu.computations.dp_query.plan import (
    BoolOp,
    Compare,
    InSet,
    IsNull,
    Plan,
    Predicate,
    predicate_columns,
)
from insitu.errors import InvalidInput
from insitu.tables.card import Card

PREPARED_KEY = "insitu.dp_prepared"
GRID_PREFIX = "__insitu_g_"


def ident(name: str) -> str:
    """Quoted SQL identifier.

    Every SQL text here is built from card column names (restricted to
    ``[A-Za-z_][A-Za-z0-9_]*`` by the card), checked literals and numbers, never
    from raw analyst text; that is why the S608 warnings are silenced.
    """
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | float | bool) -> str:
    """SQL literal for a value checked against the card."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def predicate_sql(p: Predicate) -> str:
    """SQL text of a checked predicate."""
    if isinstance(p, BoolOp):
        if p.op == "not":
            return f"(NOT {predicate_sql(p.items[0])})"
        joiner = " AND " if p.op == "and" else " OR "
        return "(" + joiner.join(predicate_sql(i) for i in p.items) + ")"
    if isinstance(p, IsNull):
        return f"({ident(p.column)} IS {'NOT ' if p.negate else ''}NULL)"
    if isinstance(p, InSet):
        vals = ", ".join(literal(v) for v in p.values)
        return f"({ident(p.column)} {'NOT ' if p.negate else ''}IN ({vals}))"
    assert isinstance(p, Compare)
    return f"({ident(p.column)} {p.op.value} {literal(p.value)})"


@dataclass(frozen=True)
class Source:
    """How to read a dataset file: is it already bounded, which grid columns it holds."""

    path: str
    bounded: bool = False
    grids: dict[str, str] = field(default_factory=dict)  # column -> stored grid column


def _grid_json(g: Grid) -> dict[str, float | int]:
    return {"lower": g.lower, "upper": g.upper, "step": g.step, "lo": g.lo, "hi": g.hi}


def inspect_source(path: str | Path, card: Card) -> Source:
    """Read the file's preparation mark, keeping only what still matches ``card``."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"dataset file {p} does not exist")
    try:
        meta = pq.read_metadata(p).metadata or {}
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InvalidInput(f"dataset file {p} is not readable Parquet: {exc}") from None
    raw = meta.get(PREPARED_KEY.encode())
    if raw is None:
        return Source(str(p))
    mark = json.loads(raw)
    unit = None if card.privacy_unit is None else card.privacy_unit.column
    bounded = mark.get("unit") == unit and 1 <= int(mark.get("max_rows", 0)) <= max_rows(card)
    grids: dict[str, str] = {}
    for name, g in mark.get("grids", {}).items():
        known = name in card.column_names and card.column(name).bounded
        if known and g == _grid_json(grid_for(card.column(name))):
            grids[name] = GRID_PREFIX + name
    return Source(str(p), bounded=bounded, grids=grids)


def _read(path: str) -> str:
    return f"read_parquet({literal(path)})"


def bounded_relation(source: Source, card: Card, columns: list[str] | None = None) -> str:
    """FROM clause: the file itself if prepared, else the per-unit bounded rows.

    Units with at most k rows keep them all; only the rows of units with more
    go through the window, which keeps the k with the smallest hash of the
    whole row (every card column, so the kept rows do not depend on the query
    and match :func:`prepare_dataset`). Rows without a unit are dropped. This
    is the same set of rows as a window over the whole table, without sorting
    the whole table. Only ``columns`` (all when None) are carried through.

    Leak: the running time grows with the number of units above the bound,
    which DP does not cover; prepared files move that work out of queries.
    """
    if source.bounded or card.privacy_unit is None:
        return _read(source.path)
    unit = ident(card.privacy_unit.column)
    row = ", ".join(ident(c) for c in card.column_names)
    keep = ", ".join(ident(c) for c in (card.column_names if columns is None else columns))
    keep = keep or "1 AS one"
    k = card.privacy_unit.max_rows
    data = _read(source.path)
    over = (
        f"(SELECT {unit} FROM {data} WHERE {unit} IS NOT NULL "  # noqa: S608
        f"GROUP BY {unit} HAVING count(*) > {k})"
    )
    return (
        f"(SELECT {keep} FROM {data} WHERE {unit} IS NOT NULL AND {unit} NOT IN {over} "  # noqa: S608
        f"UNION ALL SELECT {keep} FROM (SELECT *, hash({row}) AS __insitu_h FROM {data} "
        f"WHERE {unit} IN {over}) "
        f"QUALIFY row_number() OVER (PARTITION BY {unit} ORDER BY __insitu_h) <= {k})"
    )


def grid_expr(g: Grid) -> str:
    """Clamp to [L, U], then scale to the grid and round to BIGINT (monotone, so y ∈ [lo, hi])."""
    clamped = f"LEAST(GREATEST(CAST({ident(g.column)} AS DOUBLE), {g.lower!r}), {g.upper!r})"
    if g.step == 1.0:
        return f"CAST({clamped} AS BIGINT)"
    return f"CAST({clamped} * {1.0 / g.step!r} AS BIGINT)"


def bin_expr(g: Grid, bins: int) -> str:
    """Bin index 0..bins−1 of the clamped value over [L, U]."""
    span = max(g.upper - g.lower, 1e-300)
    clamped = f"LEAST(GREATEST(CAST({ident(g.column)} AS DOUBLE), {g.lower!r}), {g.upper!r})"
    return f"LEAST(CAST(floor(({clamped} - {g.lower!r}) * {bins / span!r}) AS INTEGER), {bins - 1})"


def aggregate_sql(plan: Plan, card: Card, source: Source) -> tuple[str, list[str]]:
    """The one statement, and the names of its aggregate columns (after the group keys)."""
    selects = [ident(k) for k in plan.group_by]
    names: list[str] = []

    def add(name: str, expr: str) -> None:
        if name not in names:
            names.append(name)
            selects.append(f"{expr} AS {ident(name)}")

    for m in measurements(plan, card):
        if m.kind is MKind.COUNT:
            add(m.key, "count(*)" if m.column is None else f"count({ident(m.column)})")
            continue
        assert m.column is not None
        g = grid_for(card.column(m.column))
        y = ident(source.grids[m.column]) if m.column in source.grids else grid_expr(g)
        if m.kind is MKind.HIST:
            assert m.bins is not None
            add(m.key, f"histogram({bin_expr(g, m.bins)})")
        elif m.kind is MKind.CSQ:
            add(f"sq:{m.column}", f"sum(CAST({y} AS HUGEINT) * {y})")
        else:  # SUM and CSUM both come from Σy
            add(f"sum:{m.column}", f"sum({y})")
    used = set(plan.group_by) | {a.column for a in plan.aggregates if a.column is not None}
    if plan.where is not None:
        used |= predicate_columns(plan.where)
    needed = [c for c in card.column_names if c in used]
    sql = f"SELECT {', '.join(selects)} FROM {bounded_relation(source, card, needed)}"  # noqa: S608
    if plan.where is not None:
        sql += f" WHERE {predicate_sql(plan.where)}"
    if plan.group_by:
        sql += " GROUP BY " + ", ".join(ident(k) for k in plan.group_by)
    return sql, names


def prepare_dataset(src: str | Path, dst: str | Path, card: Card) -> Path:
    """Write ``dst``: the rows of ``src`` bounded to k per unit, plus grid columns, marked.

    Run once when a dataset (or its card's bounds) changes. Queries over the
    result skip the per-query bounding and clamping; a file whose mark no
    longer matches the card is bounded and clamped per query as usual.
    """
    source = Source(str(src))
    grids = {c.name: grid_for(c) for c in card.columns if c.type.numeric and c.bounded}
    extra = "".join(f", {grid_expr(g)} AS {ident(GRID_PREFIX + n)}" for n, g in grids.items())
    mark = {
        "unit": None if card.privacy_unit is None else card.privacy_unit.column,
        "max_rows": max_rows(card),
        "grids": {n: _grid_json(g) for n, g in grids.items()},
    }
    out = Path(dst)
    sql = (
        f"COPY (SELECT *{extra} FROM {bounded_relation(source, card)}) "  # noqa: S608
        f"TO {literal(str(out))} "
        f"(FORMAT parquet, KV_METADATA {{{literal(PREPARED_KEY)}: {literal(json.dumps(mark))}}})"
    )
    with duckdb.connect() as con:
        con.execute(sql)
    return out
