"""Read a plan back from its JSON form (as sent by a client's builder), re-checking it.

:meth:`Plan.to_json` is what a client sends and what a receipt hashes;
:func:`plan_from_json` is the only way back, and it goes through the same
card checks as SQL, so a hand-made JSON plan gains nothing over SQL.
"""

from __future__ import annotations

from typing import Any

from insitu.computations.dp_query.plan import (
    PLAN_VERSION,
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


def _fail(what: str) -> QueryError:
    return QueryError(f"malformed plan JSON: {what}")


def _predicate(node: Any) -> Predicate:
    if not isinstance(node, dict) or len(node) != 1:
        raise _fail("a condition must be an object with one key")
    ((op, arg),) = node.items()
    if op in ("and", "or", "not"):
        if not isinstance(arg, list) or not arg:
            raise _fail(f"{op} needs a list of conditions")
        return BoolOp(op, tuple(_predicate(a) for a in arg))
    if op == "cmp" and isinstance(arg, list) and len(arg) == 3:
        column, sym, value = arg
        try:
            return Compare(str(column), CmpOp(sym), value)
        except ValueError:
            raise _fail(f"unknown comparison {sym!r}") from None
    if op == "in" and isinstance(arg, list) and len(arg) == 3 and isinstance(arg[1], list):
        return InSet(str(arg[0]), tuple(arg[1]), bool(arg[2]))
    if op == "null" and isinstance(arg, list) and len(arg) == 2:
        return IsNull(str(arg[0]), bool(arg[1]))
    raise _fail(f"unknown condition {op!r}")


def _aggregate(node: Any) -> Aggregate:
    if not isinstance(node, dict):
        raise _fail("an aggregate must be an object")
    try:
        kind = AggKind(node["kind"])
    except (KeyError, ValueError):
        raise _fail(f"unknown aggregate kind {node.get('kind')!r}") from None
    alias = node.get("alias")
    if not isinstance(alias, str) or not alias:
        raise _fail("every aggregate needs an alias")
    column = node.get("column")
    if column is not None and not isinstance(column, str):
        raise _fail("column must be a string or null")
    q, bins = node.get("quantile"), node.get("bins")
    if q is not None and (isinstance(q, bool) or not isinstance(q, int | float)):
        raise _fail("quantile must be a number")
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int)):
        raise _fail("bins must be an integer")
    return Aggregate(kind, column, alias, None if q is None else float(q), bins)


def plan_from_json(data: Any, card: Card) -> Plan:
    """Rebuild and re-validate a plan from :meth:`Plan.to_json` output against ``card``."""
    if not isinstance(data, dict):
        raise _fail("expected an object")
    if data.get("version") != PLAN_VERSION:
        raise _fail(f"unsupported version {data.get('version')!r}")
    if data.get("dataset") != card.name:
        raise QueryError(f"the plan is for dataset {data.get('dataset')!r}, not {card.name!r}")
    aggs, keys, where = data.get("aggregates"), data.get("group_by", []), data.get("where")
    if not isinstance(aggs, list) or not isinstance(keys, list):
        raise _fail("aggregates and group_by must be lists")
    if not all(isinstance(k, str) for k in keys):
        raise _fail("group_by must list column names")
    return build_plan(
        card,
        aggregates=[_aggregate(a) for a in aggs],
        group_by=keys,
        where=None if where is None else _predicate(where),
    )
