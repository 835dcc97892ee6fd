"""Python builder for DP queries; compiles to the same :class:`Plan` as the SQL subset.

Example
-------
>>> q = (Query(card).group_by("region").count().mean("income")
...      .where(col("age").ge(18)))                              # doctest: +SKIP
>>> plan = q.plan()                                              # doctest: +SKIP

is the plan of ``SELECT region, COUNT(*), AVG(income) FROM persons
WHERE age >= 18 GROUP BY region``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

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
from insitu.tables.card import Card

Literal = str | float | bool


@dataclass(frozen=True)
class ColRef:
    """A column in a WHERE condition; its methods build predicates."""

    name: str

    def eq(self, value: Literal) -> Predicate:
        """``column = value``."""
        return Compare(self.name, CmpOp.EQ, value)

    def ne(self, value: Literal) -> Predicate:
        """``column <> value``."""
        return Compare(self.name, CmpOp.NE, value)

    def lt(self, value: float) -> Predicate:
        """``column < value``."""
        return Compare(self.name, CmpOp.LT, value)

    def le(self, value: float) -> Predicate:
        """``column <= value``."""
        return Compare(self.name, CmpOp.LE, value)

    def gt(self, value: float) -> Predicate:
        """``column > value``."""
        return Compare(self.name, CmpOp.GT, value)

    def ge(self, value: float) -> Predicate:
        """``column >= value``."""
        return Compare(self.name, CmpOp.GE, value)

    def between(self, low: float, high: float) -> Predicate:
        """``column BETWEEN low AND high`` (both ends included)."""
        return BoolOp("and", (self.ge(low), self.le(high)))

    def isin(self, values: Iterable[Literal]) -> Predicate:
        """``column IN (values...)``."""
        return InSet(self.name, tuple(values))

    def notin(self, values: Iterable[Literal]) -> Predicate:
        """``column NOT IN (values...)``."""
        return InSet(self.name, tuple(values), negate=True)

    def is_null(self) -> Predicate:
        """``column IS NULL``."""
        return IsNull(self.name)

    def not_null(self) -> Predicate:
        """``column IS NOT NULL``."""
        return IsNull(self.name, negate=True)


def col(name: str) -> ColRef:
    """Refer to a column in a WHERE condition."""
    return ColRef(name)


def all_of(*predicates: Predicate) -> Predicate:
    """AND of ``predicates``."""
    return predicates[0] if len(predicates) == 1 else BoolOp("and", predicates)


def any_of(*predicates: Predicate) -> Predicate:
    """OR of ``predicates``."""
    return predicates[0] if len(predicates) == 1 else BoolOp("or", predicates)


def not_(predicate: Predicate) -> Predicate:
    """NOT ``predicate``."""
    return BoolOp("not", (predicate,))


@dataclass(frozen=True)
class Query:
    """An immutable DP query under construction; every method returns a new one."""

    card: Card
    aggregates: tuple[Aggregate, ...] = ()
    keys: tuple[str, ...] = ()
    condition: Predicate | None = None

    def _add(self, agg: Aggregate) -> Query:
        return replace(self, aggregates=(*self.aggregates, agg))

    def count(self, column: str | None = None, *, alias: str | None = None) -> Query:
        """COUNT(*) or COUNT(column) (non-null values)."""
        default = "count" if column is None else f"count_{column}"
        return self._add(Aggregate(AggKind.COUNT, column, alias or default))

    def sum(self, column: str, *, alias: str | None = None) -> Query:
        """SUM(column), values clamped to the card's bounds."""
        return self._add(Aggregate(AggKind.SUM, column, alias or f"sum_{column}"))

    def mean(self, column: str, *, alias: str | None = None) -> Query:
        """AVG(column), values clamped to the card's bounds."""
        return self._add(Aggregate(AggKind.MEAN, column, alias or f"mean_{column}"))

    def variance(self, column: str, *, alias: str | None = None) -> Query:
        """VARIANCE(column) (population variance of the clamped values)."""
        return self._add(Aggregate(AggKind.VARIANCE, column, alias or f"variance_{column}"))

    def stddev(self, column: str, *, alias: str | None = None) -> Query:
        """STDDEV(column) (population standard deviation of the clamped values)."""
        return self._add(Aggregate(AggKind.STDDEV, column, alias or f"stddev_{column}"))

    def quantile(
        self, column: str, q: float, *, alias: str | None = None, bins: int | None = None
    ) -> Query:
        """The q-quantile of column, read off a noisy histogram with ``bins`` bins."""
        default = f"quantile_{column}_q{round(q * 100, 2):g}".replace(".", "_")
        return self._add(Aggregate(AggKind.QUANTILE, column, alias or default, q, bins))

    def median(self, column: str, *, alias: str | None = None, bins: int | None = None) -> Query:
        """The median of column (QUANTILE 0.5)."""
        return self.quantile(column, 0.5, alias=alias or f"quantile_{column}_q50", bins=bins)

    def histogram(self, column: str, *, bins: int, alias: str | None = None) -> Query:
        """Counts in ``bins`` equal-width bins over the column's bounds."""
        return self._add(
            Aggregate(AggKind.HISTOGRAM, column, alias or f"histogram_{column}", None, bins)
        )

    def group_by(self, *columns: str) -> Query:
        """GROUP BY ``columns`` (categories, booleans; strings by partition selection)."""
        return replace(self, keys=(*self.keys, *columns))

    def where(self, predicate: Predicate) -> Query:
        """Keep rows matching ``predicate`` (ANDed with earlier conditions)."""
        cond = predicate if self.condition is None else all_of(self.condition, predicate)
        return replace(self, condition=cond)

    def plan(self) -> Plan:
        """Check against the card and return the plan (raises :class:`QueryError`)."""
        return build_plan(
            self.card, aggregates=self.aggregates, group_by=self.keys, where=self.condition
        )
