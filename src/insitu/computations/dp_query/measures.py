"""From a plan to the noisy integer sums it needs: fixed-point grids, sensitivities, budget split.

Every released number is computed from a few *measurements* — integer
vectors over the groups — each made private once by additive noise:

========  ==========================================  ==========================
key       true value per group (y = grid value)        sensitivity (one unit, k rows)
========  ==========================================  ==========================
count     number of rows (or of non-null ``c``)        k
sum       Σ y                                          k · max(|lo|, |hi|)
csum      Σ (2y − lo − hi)   (centred, half steps)     k · (hi − lo)
csq       Σ (2y − lo − hi)²                            k · (hi − lo)²
hist      rows per bin, ``bins`` bins over [L, U]      k   (for the whole vector)
========  ==========================================  ==========================

A value x of a numeric column is clamped to the card's [L, U] and put on the
grid y = round(x / step) with step a power of two, so y ∈ [lo, hi] with
lo = ⌊L/step⌋, hi = ⌈U/step⌉ whatever the rounding mode. Neighbouring
datasets differ by adding or removing one privacy unit with at most k rows
(k = ``card.privacy_unit.max_rows``, enforced before aggregation); a unit's
k rows can fall in one group, so each bound above holds for the L1 and the
L2 norm of the whole vector over groups. The budget is split over the
measurements by weight (equal by default); sequential composition makes the
total the sum of the parts (ε under pure DP, ρ under zCDP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from insitu.computations.dp_query.plan import AggKind, Plan
from insitu.dp.mechanisms import NoiseSpec, gaussian_for, laplace_for
from insitu.errors import QueryError
from insitu.tables.card import Card, Column, ColumnType

GRID_BITS = 20
"""A float column's [L, U] spans about 2^20 grid steps (rounding error ≤ range / 2^21)."""
MAX_GRID_BITS = 40
"""Largest |y| on any grid is 2^40 (columns far from zero get a coarser step)."""


@dataclass(frozen=True)
class Grid:
    """Fixed-point grid of one numeric column: value = y · step, y ∈ [lo, hi]."""

    column: str
    lower: float
    upper: float
    step: float
    lo: int
    hi: int


def grid_for(col: Column) -> Grid:
    """The column's grid: step 1 for integer columns with a small range, else a power of two."""
    if col.lower is None or col.upper is None:
        raise QueryError(
            f"column {col.name!r} has no declared bounds", details={"column": col.name}
        )
    lower, upper = float(col.lower), float(col.upper)
    span = upper - lower if upper > lower else max(abs(upper), 1.0)
    if col.type is ColumnType.INTEGER and span <= 2**GRID_BITS:
        step = 1.0
    else:
        step = 2.0 ** math.ceil(math.log2(span / 2**GRID_BITS))
    # Keep |y| ≤ 2^40 so that grid values, their squares and sums fit DuckDB's integers.
    reach = max(abs(lower), abs(upper))
    if reach / step > 2**MAX_GRID_BITS:
        step = 2.0 ** math.ceil(math.log2(reach / 2**MAX_GRID_BITS))
    return Grid(col.name, lower, upper, step, math.floor(lower / step), math.ceil(upper / step))


class MKind(StrEnum):
    """Kinds of measurement."""

    COUNT = "count"
    SUM = "sum"
    CSUM = "csum"
    CSQ = "csq"
    HIST = "hist"


@dataclass(frozen=True)
class Measurement:
    """One noisy integer vector: ``width`` values per group."""

    kind: MKind
    column: str | None = None
    bins: int | None = None

    @cached_property
    def key(self) -> str:
        """Stable name, e.g. ``count``, ``csum:income``, ``hist:age:64``."""
        parts = [self.kind.value]
        if self.column is not None:
            parts.append(self.column)
        if self.bins is not None:
            parts.append(str(self.bins))
        return ":".join(parts)

    @property
    def width(self) -> int:
        """Values per group."""
        return self.bins if self.kind is MKind.HIST and self.bins else 1

    def sensitivity(self, card: Card, max_rows: int) -> int:
        """Bound on how much one privacy unit moves this vector (L1 and L2), in grid units."""
        if self.kind in (MKind.COUNT, MKind.HIST):
            return max_rows
        assert self.column is not None
        g = grid_for(card.column(self.column))
        if self.kind is MKind.SUM:
            return max_rows * max(abs(g.lo), abs(g.hi))
        if self.kind is MKind.CSUM:
            return max_rows * (g.hi - g.lo)
        return max_rows * (g.hi - g.lo) ** 2


def max_rows(card: Card) -> int:
    """Rows one privacy unit may contribute (1 when the card names no unit: rows are units)."""
    return 1 if card.privacy_unit is None else card.privacy_unit.max_rows


def count_for(card: Card, column: str | None) -> Measurement:
    """The count that normalises aggregates of ``column`` (COUNT(*) if it cannot be null)."""
    if column is None or not card.column(column).nullable:
        return Measurement(MKind.COUNT)
    return Measurement(MKind.COUNT, column)


def needs_selection(plan: Plan, card: Card) -> bool:
    """Whether some group key has no declared domain (string): DP partition selection."""
    return any(card.column(k).type is ColumnType.STRING for k in plan.group_by)


def measurements(plan: Plan, card: Card) -> tuple[Measurement, ...]:
    """The distinct measurements the plan needs, in a stable order."""
    out: list[Measurement] = []

    def need(m: Measurement) -> None:
        if m not in out:
            out.append(m)

    if needs_selection(plan, card):
        need(Measurement(MKind.COUNT))
    for a in plan.aggregates:
        if a.kind is AggKind.COUNT:
            need(count_for(card, a.column))
        elif a.kind is AggKind.SUM:
            need(Measurement(MKind.SUM, a.column))
        elif a.kind is AggKind.MEAN:
            need(count_for(card, a.column))
            need(Measurement(MKind.CSUM, a.column))
        elif a.kind in (AggKind.VARIANCE, AggKind.STDDEV):
            need(count_for(card, a.column))
            need(Measurement(MKind.CSUM, a.column))
            need(Measurement(MKind.CSQ, a.column))
        else:  # QUANTILE, HISTOGRAM
            need(Measurement(MKind.HIST, a.column, a.bins))
    return tuple(out)


@dataclass(frozen=True)
class Share:
    """One measurement's part of the budget and the noise it gets."""

    measurement: Measurement
    weight: float
    rho: float | None
    epsilon: float | None
    sensitivity: int
    noise: NoiseSpec

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description for the release."""
        return {
            "measurement": self.measurement.key,
            "weight": self.weight,
            "rho": self.rho,
            "epsilon": self.epsilon,
            "sensitivity": self.sensitivity,
            "noise": self.noise.kind.value,
            "scale": self.noise.scale,
        }


def allocate(
    plan: Plan,
    card: Card,
    *,
    epsilon: float | None,
    rho: float | None,
    weights: dict[str, float] | None = None,
) -> tuple[Share, ...]:
    """Split ε (pure, discrete Laplace) or ρ (zCDP, discrete Gaussian) over the measurements.

    ``weights`` maps measurement keys to positive weights (missing keys weigh 1);
    shares are normalised to sum to one, so the parts compose to the total.
    """
    if (epsilon is None) == (rho is None):
        raise QueryError("give exactly one of epsilon= (pure DP) or rho= (zCDP)")
    ms = measurements(plan, card)
    weights = dict(weights or {})
    unknown = sorted(set(weights) - {m.key for m in ms})
    if unknown:
        raise QueryError(f"weights name unknown measurements: {', '.join(unknown)}")
    raw = [float(weights.get(m.key, 1.0)) for m in ms]
    if any(not math.isfinite(w) or w <= 0 for w in raw):
        raise QueryError("measurement weights must be positive numbers")
    total = math.fsum(raw)
    k = max_rows(card)
    shares: list[Share] = []
    for m, w in zip(ms, raw, strict=True):
        part = w / total
        sens = m.sensitivity(card, k)
        if rho is not None:
            r = rho * part
            shares.append(Share(m, part, r, None, sens, gaussian_for(sensitivity=sens, rho=r)))
        else:
            assert epsilon is not None
            e = epsilon * part
            shares.append(Share(m, part, None, e, sens, laplace_for(sensitivity=sens, epsilon=e)))
    return tuple(shares)
