"""The query plan: what a DP query asks for, independent of how it was written.

SQL (:func:`~insitu.computations.dp_query.sql.compile_sql`) and the Python
builder (:class:`~insitu.computations.dp_query.builder.Query`) both produce a
:class:`Plan`; the same plan always has the same :attr:`Plan.hash`, so the
receipt of a release names exactly what was computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from insitu.crypto.hashing import hash_json

PLAN_VERSION = 1


class AggKind(StrEnum):
    """Aggregates a DP query may release."""

    COUNT = "count"
    SUM = "sum"
    MEAN = "mean"
    VARIANCE = "variance"
    STDDEV = "stddev"
    QUANTILE = "quantile"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Aggregate:
    """One released aggregate.

    ``column`` is ``None`` only for ``COUNT(*)``; ``quantile`` is q in [0, 1]
    for QUANTILE; ``bins`` is the number of equal-width bins over the
    column's bounds for HISTOGRAM (and the resolution of QUANTILE).
    """

    kind: AggKind
    column: str | None
    alias: str
    quantile: float | None = None
    bins: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "column": self.column,
            "alias": self.alias,
            "quantile": self.quantile,
            "bins": self.bins,
        }


class CmpOp(StrEnum):
    """Comparison operators allowed in WHERE."""

    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Compare:
    """``column op value`` with a literal from the column's public domain."""

    column: str
    op: CmpOp
    value: str | float | bool

    def to_json(self) -> dict[str, Any]:
        return {"cmp": [self.column, self.op.value, self.value]}


@dataclass(frozen=True)
class InSet:
    """``column [NOT] IN (values...)`` over declared categories."""

    column: str
    values: tuple[str | float | bool, ...]
    negate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"in": [self.column, list(self.values), self.negate]}


@dataclass(frozen=True)
class IsNull:
    """``column IS [NOT] NULL``."""

    column: str
    negate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"null": [self.column, self.negate]}


@dataclass(frozen=True)
class BoolOp:
    """AND / OR of predicates, or NOT of one."""

    op: str  # "and" | "or" | "not"
    items: tuple[Predicate, ...]

    def to_json(self) -> dict[str, Any]:
        return {self.op: [p.to_json() for p in self.items]}


Predicate = Compare | InSet | IsNull | BoolOp


def predicate_columns(p: Predicate) -> set[str]:
    """Columns a predicate reads."""
    if isinstance(p, BoolOp):
        out: set[str] = set()
        for item in p.items:
            out |= predicate_columns(item)
        return out
    return {p.column}


@dataclass(frozen=True)
class Plan:
    """A validated DP query over one dataset.

    Built only by :func:`compile_sql` or :meth:`Query.plan`, which check it
    against the card; do not construct one by hand for untrusted input.
    """

    dataset: str
    aggregates: tuple[Aggregate, ...]
    group_by: tuple[str, ...] = ()
    where: Predicate | None = None
    card_hash: str = ""
    partition_selection: bool = False
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Canonical JSON form (what :attr:`hash` covers)."""
        return {
            "version": PLAN_VERSION,
            "dataset": self.dataset,
            "aggregates": [a.to_json() for a in self.aggregates],
            "group_by": list(self.group_by),
            "where": None if self.where is None else self.where.to_json(),
            "card_hash": self.card_hash,
            "partition_selection": self.partition_selection,
        }

    @property
    def hash(self) -> str:
        """Hex SHA-256 of the canonical JSON plan."""
        return hash_json(self.to_json())

    @property
    def columns(self) -> tuple[str, ...]:
        """Output column names in order: group keys, then aggregate aliases."""
        return self.group_by + tuple(a.alias for a in self.aggregates)
