"""Compile the DP SQL subset (parsed by sqlglot) to a :class:`Plan`.

Accepted: ``SELECT <group keys and aggregates> FROM <dataset> [WHERE ...]
[GROUP BY <keys>]`` with COUNT, SUM, AVG/MEAN, VARIANCE/VAR_POP/VAR_SAMP,
STDDEV/STDDEV_POP/STDDEV_SAMP, MEDIAN, QUANTILE/QUANTILE_CONT/
APPROX_QUANTILE/PERCENTILE_CONT … WITHIN GROUP, HISTOGRAM(col, bins).
Everything else — raw columns, joins, subqueries, CTEs, set operations,
DISTINCT, HAVING, ORDER BY, LIMIT/OFFSET, window functions, MIN/MAX,
arithmetic in or on aggregates — is refused with a
:class:`~insitu.errors.QueryError` naming the construct (and column).
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

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
from insitu.computations.dp_query.validate import build_plan
from insitu.errors import QueryError
from insitu.tables.card import Card

_SIMPLE: dict[type[exp.Expression], AggKind] = {
    exp.Sum: AggKind.SUM,
    exp.Avg: AggKind.MEAN,
    exp.Variance: AggKind.VARIANCE,
    exp.VariancePop: AggKind.VARIANCE,
    exp.Stddev: AggKind.STDDEV,
    exp.StddevPop: AggKind.STDDEV,
    exp.StddevSamp: AggKind.STDDEV,
    exp.Median: AggKind.QUANTILE,
}
_QUANTILE = (exp.Quantile, exp.ApproxQuantile, exp.PercentileCont, exp.PercentileDisc)
_CMP: dict[type[exp.Expression], CmpOp] = {
    exp.EQ: CmpOp.EQ,
    exp.NEQ: CmpOp.NE,
    exp.LT: CmpOp.LT,
    exp.LTE: CmpOp.LE,
    exp.GT: CmpOp.GT,
    exp.GTE: CmpOp.GE,
}
_FLIP = {CmpOp.LT: CmpOp.GT, CmpOp.LE: CmpOp.GE, CmpOp.GT: CmpOp.LT, CmpOp.GE: CmpOp.LE}
_REFUSED_CLAUSES = {
    "joins": "JOIN",
    "with": "WITH (CTE)",
    "having": "HAVING",
    "order": "ORDER BY",
    "limit": "LIMIT",
    "offset": "OFFSET",
    "qualify": "QUALIFY",
    "windows": "WINDOW",
    "distinct": "DISTINCT",
    "laterals": "LATERAL",
    "sample": "SAMPLE",
    "into": "INTO",
}


def compile_sql(sql: str, card: Card) -> Plan:
    """Parse ``sql`` and check it against ``card``.

    Parameters
    ----------
    sql:
        One SELECT statement in the DP subset, over the table named like the card.
    card:
        The dataset's public card.

    Raises
    ------
    QueryError
        Bad SQL, or any construct or column outside the subset.
    """
    if not isinstance(sql, str):
        raise TypeError("sql must be a string")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"cannot parse SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryError("exactly one SQL statement is allowed")
    stmt = statements[0]
    if not isinstance(stmt, exp.Select):
        raise QueryError(f"only SELECT is allowed, not {stmt.key.upper()}")
    for key, name in _REFUSED_CLAUSES.items():
        # sqlglot >= 28 spells clause keys that are Python keywords with a trailing "_".
        if stmt.args.get(key) or stmt.args.get(key + "_"):
            raise QueryError(f"{name} is not allowed in a DP query")
    if stmt.find(exp.Subquery, exp.Union, exp.Intersect, exp.Except) is not None:
        raise QueryError("subqueries and set operations are not allowed in a DP query")
    if stmt.find(exp.Window) is not None:
        raise QueryError("window functions (OVER) are not allowed in a DP query")
    _check_from(stmt, card)
    group_by = _group_keys(stmt)
    aggregates: list[Aggregate] = []
    for i, item in enumerate(stmt.expressions):
        agg = _select_item(item, group_by, i)
        if agg is not None:
            aggregates.append(agg)
    where_node = stmt.args.get("where")
    where = None if where_node is None else _predicate(where_node.this)
    return build_plan(card, aggregates=aggregates, group_by=group_by, where=where)


def _check_from(stmt: exp.Select, card: Card) -> None:
    source = stmt.args.get("from_") or stmt.args.get("from")
    if source is None:
        raise QueryError(f"FROM is missing; query the dataset {card.name!r}")
    table = source.this
    if not isinstance(table, exp.Table) or table.args.get("db") or table.args.get("catalog"):
        raise QueryError(f"FROM must name the dataset {card.name!r} and nothing else")
    if table.name.lower() != card.name.lower():
        raise QueryError(f"FROM {table.name}: unknown dataset; this card is {card.name!r}")


def _group_keys(stmt: exp.Select) -> list[str]:
    group = stmt.args.get("group")
    if group is None:
        return []
    if group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets"):
        raise QueryError("ROLLUP, CUBE and GROUPING SETS are not allowed; ask for margins instead")
    keys: list[str] = []
    for e in group.expressions:
        if not isinstance(e, exp.Column) or e.table:
            raise QueryError(f"GROUP BY {e.sql()}: only plain column names can be grouped on")
        keys.append(e.name)
    return keys


def _select_item(item: exp.Expression, group_by: list[str], index: int) -> Aggregate | None:
    alias = None
    if isinstance(item, exp.Alias):
        alias, item = item.alias, item.this
    if isinstance(item, exp.Column):
        if item.name in group_by and not item.table:
            if alias not in (None, item.name):
                raise QueryError(f"SELECT {item.name} AS {alias}: group keys cannot be renamed")
            return None
        raise QueryError(
            f"SELECT of a raw column {item.name!r} is not allowed; only group keys and aggregates",
            details={"column": item.name},
        )
    if isinstance(item, exp.Star):
        raise QueryError("SELECT * is not allowed; only group keys and aggregates")
    kind, column, q, bins = _aggregate(item)
    default = kind.value if column is None else f"{kind.value}_{column}"
    if kind is AggKind.QUANTILE and q is not None:
        default = f"{default}_q{round(q * 100, 2):g}".replace(".", "_")
    if kind is AggKind.COUNT and column is None:
        default = "count"
    return Aggregate(kind, column, alias or default, q, bins)


def _column_arg(node: Any, fn: str) -> str:
    if not isinstance(node, exp.Column) or node.table:
        shown = node.sql() if isinstance(node, exp.Expression) else str(node)
        raise QueryError(f"{fn}({shown}): the argument must be a plain column name")
    return str(node.name)


def _number(node: Any, fn: str) -> float:
    if isinstance(node, exp.Neg):
        return -_number(node.this, fn)
    if not isinstance(node, exp.Literal) or node.is_string:
        raise QueryError(f"{fn}: expected a number literal")
    return float(node.this)


def _aggregate(node: exp.Expression) -> tuple[AggKind, str | None, float | None, int | None]:
    if isinstance(node, exp.Min | exp.Max):
        fn = type(node).__name__.upper()
        raise QueryError(
            f"{fn}({node.this.sql()}): MIN and MAX reveal individual values; use QUANTILE",
            details={"column": getattr(node.this, "name", None)},
        )
    if isinstance(node, exp.Count):
        arg = node.this
        if isinstance(arg, exp.Distinct):
            raise QueryError("COUNT(DISTINCT ...) is not allowed in a DP query")
        if arg is None or isinstance(arg, exp.Star):
            return AggKind.COUNT, None, None, None
        return AggKind.COUNT, _column_arg(arg, "COUNT"), None, None
    for cls, kind in _SIMPLE.items():
        if type(node) is cls:
            q = 0.5 if cls is exp.Median else None
            return kind, _column_arg(node.this, kind.value.upper()), q, None
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, _QUANTILE):
        order = node.expression
        cols = order.expressions if isinstance(order, exp.Order) else []
        if len(cols) != 1:
            raise QueryError("PERCENTILE ... WITHIN GROUP needs ORDER BY one column")
        col = _column_arg(cols[0].this, "PERCENTILE")
        return AggKind.QUANTILE, col, _number(node.this.this, "PERCENTILE"), None
    if isinstance(node, _QUANTILE):
        q_node = node.args.get("quantile") or node.args.get("expression")
        return (
            AggKind.QUANTILE,
            _column_arg(node.this, "QUANTILE"),
            _number(q_node, "QUANTILE"),
            None,
        )
    if isinstance(node, exp.Anonymous):
        fn = str(node.this).upper()
        args = node.expressions
        if fn == "MEAN" and len(args) == 1:
            return AggKind.MEAN, _column_arg(args[0], fn), None, None
        if fn == "HISTOGRAM" and len(args) == 2:
            bins = _number(args[1], fn)
            if bins != int(bins):
                raise QueryError("HISTOGRAM: the number of bins must be an integer")
            return AggKind.HISTOGRAM, _column_arg(args[0], fn), None, int(bins)
        raise QueryError(f"function {fn} is not allowed in a DP query")
    raise QueryError(
        f"{node.sql()}: only aggregates (COUNT, SUM, AVG, VARIANCE, STDDEV, MEDIAN, QUANTILE, "
        "HISTOGRAM) and group keys may be selected"
    )


def _literal(node: Any, column: str) -> str | float | bool:
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Neg):
        inner = _literal(node.this, column)
        if isinstance(inner, float):
            return -inner
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else float(node.this)
    raise QueryError(
        f"WHERE on {column}: compare with a literal, not {node.sql()}",
        details={"column": column},
    )


def _predicate(node: Any) -> Predicate:
    if isinstance(node, exp.Paren):
        return _predicate(node.this)
    if isinstance(node, exp.And | exp.Or):
        op = "and" if isinstance(node, exp.And) else "or"
        return BoolOp(op, (_predicate(node.left), _predicate(node.right)))
    if isinstance(node, exp.Not):  # the card checks put NOT in canonical form
        return BoolOp("not", (_predicate(node.this),))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return IsNull(_column_arg(node.this, "IS NULL"))
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            raise QueryError("subqueries are not allowed in a DP query")
        col = _column_arg(node.this, "IN")
        return InSet(col, tuple(_literal(v, col) for v in node.expressions))
    if isinstance(node, exp.Between):
        col = _column_arg(node.this, "BETWEEN")
        lo, hi = _literal(node.args["low"], col), _literal(node.args["high"], col)
        return BoolOp("and", (Compare(col, CmpOp.GE, lo), Compare(col, CmpOp.LE, hi)))
    for cls, op in _CMP.items():
        if type(node) is cls:
            left, right = node.args.get("this"), node.args.get("expression")
            if isinstance(left, exp.Column):
                col = _column_arg(left, op.value)
                return Compare(col, op, _literal(right, col))
            if isinstance(right, exp.Column):
                col = _column_arg(right, op.value)
                return Compare(col, _FLIP.get(op, op), _literal(left, col))
            raise QueryError(f"WHERE {node.sql()}: compare a column with a literal")
    raise QueryError(f"WHERE {node.sql()}: this condition is not allowed in a DP query")
