"""Check a query's parts against the dataset's card and build the :class:`Plan`.

This is the one gate both the SQL compiler and the builder pass through:
only aggregates over bounded numeric columns, grouping on columns with a
public (or DP-selected) domain, and filters on columns with public domains
get through. Every refusal is a :class:`~insitu.errors.QueryError` naming
the construct and the column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from insitu.computations.dp_query.plan import (
    AggKind,
    Aggregate,
    BoolOp,
    CmpOp,
    Compare,
    InSet,
    IsNull,
    Plan,
    Predicate,
)
from insitu.crypto.hashing import hash_json
from insitu.errors import NotFound, QueryError
from insitu.tables.card import Card, Column, ColumnType

MAX_BINS = 1000
DEFAULT_QUANTILE_BINS = 64
NEEDS_BOUNDS = (
    AggKind.SUM,
    AggKind.MEAN,
    AggKind.VARIANCE,
    AggKind.STDDEV,
    AggKind.QUANTILE,
    AggKind.HISTOGRAM,
)
GROUPABLE = (ColumnType.CATEGORY, ColumnType.BOOLEAN, ColumnType.STRING)


def card_hash(card: Card) -> str:
    """Hex SHA-256 of the card's canonical JSON."""
    return hash_json(card.to_dict())


def lookup(card: Card, name: str, construct: str) -> Column:
    """The card's column ``name``, or a :class:`QueryError` naming ``construct``."""
    try:
        return card.column(name)
    except NotFound as exc:
        raise QueryError(f"{construct}: {exc.message}", details={"column": name}) from None


def _unit_column(card: Card) -> str | None:
    return None if card.privacy_unit is None else card.privacy_unit.column


def check_aggregate(card: Card, agg: Aggregate) -> Aggregate:
    """Refuse aggregates the card cannot bound; fill in the quantile resolution."""
    name = agg.kind.value.upper()
    if agg.column is None:
        if agg.kind is not AggKind.COUNT:
            raise QueryError(f"{name} needs a column")
        return agg
    col = lookup(card, agg.column, name)
    if agg.kind is AggKind.COUNT:
        return agg
    if not col.type.numeric:
        raise QueryError(
            f"{name}({col.name}): column {col.name!r} is {col.type.value}, not numeric",
            details={"column": col.name},
        )
    if not col.bounded:
        raise QueryError(
            f"{name}({col.name}): column {col.name!r} has no declared lower and upper "
            "bounds on the card; the owner must declare them for DP sums, means and quantiles",
            details={"column": col.name},
        )
    if col.name == _unit_column(card):
        raise QueryError(f"{name}({col.name}): the privacy unit column cannot be aggregated")
    bins = agg.bins
    if agg.kind is AggKind.QUANTILE:
        q = agg.quantile
        if q is None or not math.isfinite(q) or not 0.0 <= q <= 1.0:
            raise QueryError(f"QUANTILE({col.name}): the quantile must be a number in [0, 1]")
        bins = DEFAULT_QUANTILE_BINS if bins is None else bins
    binned = agg.kind in (AggKind.QUANTILE, AggKind.HISTOGRAM)
    if binned and (
        not isinstance(bins, int) or isinstance(bins, bool) or not 1 <= bins <= MAX_BINS
    ):
        raise QueryError(f"{name}({col.name}): bins must be an integer in 1..{MAX_BINS}")
    return Aggregate(agg.kind, agg.column, agg.alias, agg.quantile, bins)


def check_group_key(card: Card, name: str) -> Column:
    """Refuse GROUP BY on columns without a public or DP-selectable domain."""
    col = lookup(card, name, "GROUP BY")
    if col.name == _unit_column(card):
        raise QueryError(
            f"GROUP BY {col.name}: the privacy unit column cannot be grouped on",
            details={"column": col.name},
        )
    if col.type not in GROUPABLE:
        raise QueryError(
            f"GROUP BY {col.name}: column {col.name!r} is {col.type.value}; only category, "
            "boolean and string columns can be grouped on (bin numbers with HISTOGRAM)",
            details={"column": col.name},
        )
    return col


def _literal_ok(col: Column, value: object, construct: str) -> str | float | bool:
    if col.type is ColumnType.CATEGORY:
        if not isinstance(value, str) or value not in (col.categories or []):
            raise QueryError(
                f"WHERE {construct}: {value!r} is not a declared category of {col.name!r}",
                details={"column": col.name},
            )
        return value
    if col.type is ColumnType.BOOLEAN:
        if not isinstance(value, bool):
            raise QueryError(f"WHERE {construct}: {col.name!r} is boolean; compare with TRUE/FALSE")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QueryError(f"WHERE {construct}: {col.name!r} is numeric; compare with a number")
    return float(value)


_NEGATED = {
    CmpOp.EQ: CmpOp.NE,
    CmpOp.NE: CmpOp.EQ,
    CmpOp.LT: CmpOp.GE,
    CmpOp.GE: CmpOp.LT,
    CmpOp.GT: CmpOp.LE,
    CmpOp.LE: CmpOp.GT,
}


def _negate(p: Predicate) -> Predicate:
    """NOT p in canonical form, so equivalent SQL and builder conditions give one plan.

    Pushing NOT into a comparison keeps SQL's three-valued logic: both sides
    are NULL exactly when the column is NULL, and WHERE drops NULL either way.
    """
    if isinstance(p, InSet):
        return InSet(p.column, p.values, not p.negate)
    if isinstance(p, IsNull):
        return IsNull(p.column, not p.negate)
    if isinstance(p, Compare):
        return Compare(p.column, _NEGATED[p.op], p.value)
    if p.op == "not":
        return p.items[0]
    return BoolOp("not", (p,))


def check_predicate(card: Card, p: Predicate) -> Predicate:
    """Refuse filters on columns whose domain is not public (strings, ids, dates, unbounded)."""
    if isinstance(p, BoolOp):
        if p.op not in ("and", "or", "not") or not p.items or (p.op == "not" and len(p.items) != 1):
            raise QueryError(f"WHERE: malformed {p.op.upper()} condition")
        items: list[Predicate] = []
        for item in (check_predicate(card, i) for i in p.items):
            # AND/OR are associative: flatten so SQL and builder give the same plan.
            if isinstance(item, BoolOp) and item.op == p.op != "not":
                items.extend(item.items)
            else:
                items.append(item)
        if p.op == "not":
            return _negate(items[0])
        if len(items) == 1:
            return items[0]
        return BoolOp(p.op, tuple(items))
    col = lookup(card, p.column, "WHERE")
    if col.name == _unit_column(card):
        raise QueryError(
            f"WHERE on {col.name}: the privacy unit column cannot be filtered on",
            details={"column": col.name},
        )
    if isinstance(p, IsNull):
        return p
    public = col.type in (ColumnType.CATEGORY, ColumnType.BOOLEAN) or (
        col.type.numeric and col.bounded
    )
    if not public:
        why = "has no declared bounds" if col.type.numeric else f"is {col.type.value}"
        raise QueryError(
            f"WHERE on {col.name}: column {col.name!r} {why}; only columns with a public domain "
            "(categories, booleans, bounded numbers) can be filtered on",
            details={"column": col.name},
        )
    if isinstance(p, InSet):
        values = tuple(_literal_ok(col, v, f"{col.name} IN") for v in p.values)
        if not values:
            raise QueryError(f"WHERE {col.name} IN (): the list is empty")
        return InSet(col.name, values, p.negate)
    if p.op not in (CmpOp.EQ, CmpOp.NE) and not col.type.numeric:
        raise QueryError(f"WHERE {col.name} {p.op.value}: only = and <> apply to {col.type.value}")
    return Compare(col.name, p.op, _literal_ok(col, p.value, f"{col.name} {p.op.value}"))


def build_plan(
    card: Card,
    *,
    aggregates: Sequence[Aggregate],
    group_by: Sequence[str] = (),
    where: Predicate | None = None,
) -> Plan:
    """Validate the parts of a query against ``card`` and return its plan."""
    if not aggregates:
        raise QueryError("a DP query must release at least one aggregate")
    checked = tuple(check_aggregate(card, a) for a in aggregates)
    keys = tuple(check_group_key(card, g).name for g in group_by)
    if len(set(keys)) != len(keys):
        raise QueryError("GROUP BY names a column twice")
    if any(a.kind is AggKind.HISTOGRAM for a in checked) and len(checked) > 1:
        raise QueryError("HISTOGRAM must be the only aggregate of its query")
    names = list(keys) + [a.alias for a in checked]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise QueryError(f"output names are not unique: {', '.join(dupes)}; use AS to rename")
    pred = None if where is None else check_predicate(card, where)
    notes: list[str] = []
    selection = any(card.column(k).type is ColumnType.STRING for k in keys)
    if selection:
        notes.append("string group keys are released by DP partition selection (needs delta)")
    if card.privacy_unit is None:
        notes.append("the card declares no privacy unit: each row is one unit")
    return Plan(
        dataset=card.name,
        aggregates=checked,
        group_by=keys,
        where=pred,
        card_hash=card_hash(card),
        partition_selection=selection,
        notes=tuple(notes),
    )
