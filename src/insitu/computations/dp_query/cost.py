"""Privacy cost and expected error of a plan, computed from the plan and card alone.

:func:`plan_cost` and :func:`dry_run` read no data and spend nothing: the
cost of a DP query depends only on the plan, the card's bounds and the
privacy parameters, never on the rows, so an analyst (or an approval
policy) can see it before anything runs.

Privacy parameters are keyword-only: ``epsilon=`` asks for pure ε-DP
(discrete Laplace noise), ``rho=`` for ρ-zCDP (discrete Gaussian noise);
``delta=`` is the δ spent on DP partition selection and is required exactly
when the query groups on a string column without declared values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import pandas as pd

from insitu.computations.dp_query.measures import (
    Measurement,
    MKind,
    Share,
    allocate,
    count_for,
    grid_for,
    max_rows,
)
from insitu.computations.dp_query.plan import AggKind, Plan
from insitu.computations.dp_query.validate import card_hash
from insitu.dp.accounting import PrivacyCost, check_delta, check_positive
from insitu.dp.mechanisms import selection_threshold
from insitu.errors import InvalidInput, QueryError
from insitu.tables.card import Card


def check_privacy(
    plan: Plan, *, epsilon: float | None, rho: float | None, delta: float | None
) -> None:
    """Refuse missing, doubled, negative or misplaced privacy parameters."""
    if (epsilon is None) == (rho is None):
        raise QueryError("give exactly one of epsilon= (pure DP) or rho= (zCDP)")
    if epsilon is not None:
        check_positive("epsilon", epsilon)
    if rho is not None:
        check_positive("rho", rho)
    if plan.partition_selection and delta is None:
        raise QueryError(
            "grouping on a string column releases only keys that pass DP partition "
            "selection, which needs delta= (for example 1e-7)"
        )
    if not plan.partition_selection and delta is not None:
        raise QueryError("delta= is only used by partition selection (GROUP BY a string column)")
    if delta is not None:
        check_delta(delta)


def plan_cost(
    plan: Plan,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    delta: float | None = None,
) -> PrivacyCost:
    """What releasing ``plan`` costs.

    Returns a :class:`~insitu.dp.accounting.PrivacyCost`: pure ε-DP (plus δ
    of partition selection) for ``epsilon=``, ρ-zCDP shown with its (ε, δ)
    conversion for ``rho=``. The whole of ε or ρ is spent, split over the
    plan's measurements (see :func:`~insitu.computations.dp_query.measures.allocate`).
    """
    check_privacy(plan, epsilon=epsilon, rho=rho, delta=delta)
    sel = 0.0 if delta is None else float(delta)
    if epsilon is not None:
        return PrivacyCost.pure_dp(epsilon, selection_delta=sel)
    assert rho is not None
    return PrivacyCost.zcdp(rho, selection_delta=sel)


def check_card(plan: Plan, card: Card) -> None:
    """Refuse a plan compiled against another card (bounds may have changed)."""
    if plan.dataset != card.name or plan.card_hash != card_hash(card):
        raise InvalidInput(
            f"the plan was compiled against another version of the card of {plan.dataset!r}; "
            "compile the query again"
        )


@dataclass(frozen=True)
class DryRun:
    """Cost and expected error of a query, before it runs.

    ``table`` has one row per aggregate: ``output``, ``kind``, ``column``,
    ``noise_sd`` (standard deviation of the noise on one released value, in
    the column's units) and ``ci_half_width`` (half-width of its interval).
    Means, variances and quantiles depend on the group size; they are given
    for ``group_size`` rows when one is passed, else NaN.
    """

    cost: PrivacyCost
    shares: tuple[Share, ...]
    table: pd.DataFrame
    threshold: int | None
    level: float


def _expected(
    kind: AggKind, share: dict[str, Share], col: str | None, card: Card, n: float | None, bins: int
) -> float:
    if kind is AggKind.COUNT:
        return share[count_for(card, col).key].noise.sd
    assert col is not None
    g = grid_for(card.column(col))
    if kind is AggKind.SUM:
        return share[f"sum:{col}"].noise.sd * g.step
    if kind is AggKind.HISTOGRAM:
        return share[Measurement(MKind.HIST, col, bins).key].noise.sd
    if n is None:
        return math.nan
    if kind is AggKind.QUANTILE:
        sd = share[Measurement(MKind.HIST, col, bins).key].noise.sd
        return sd * math.sqrt(bins / 2.0) / n * (g.upper - g.lower)
    if kind is AggKind.MEAN:
        return share[f"csum:{col}"].noise.sd / n * g.step / 2.0
    sd_var = share[f"csq:{col}"].noise.sd / n * g.step**2 / 4.0
    if kind is AggKind.VARIANCE:
        return sd_var
    return math.sqrt(sd_var)  # |√a − √b| ≤ √|a − b|: an upper bound for STDDEV


def dry_run(
    plan: Plan,
    card: Card,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    delta: float | None = None,
    weights: dict[str, float] | None = None,
    group_size: int | None = None,
    level: float = 0.95,
) -> DryRun:
    """Cost and expected noise of ``plan`` without reading data or spending budget.

    ``group_size`` is the analyst's guess of rows per group (from the mock or
    published totals); it is only used to express the error of ratios.
    """
    check_card(plan, card)
    cost = plan_cost(plan, epsilon=epsilon, rho=rho, delta=delta)
    shares = allocate(plan, card, epsilon=epsilon, rho=rho, weights=weights)
    by_key = {s.measurement.key: s for s in shares}
    n = None if group_size is None else float(max(int(group_size), 1))
    z = abs(_z(level))
    rows = []
    for a in plan.aggregates:
        sd = _expected(a.kind, by_key, a.column, card, n, a.bins or 0)
        rows.append(
            {
                "output": a.alias,
                "kind": a.kind.value,
                "column": a.column,
                "noise_sd": sd,
                "ci_half_width": z * sd,
            }
        )
    threshold = None
    if plan.partition_selection:
        assert delta is not None
        threshold = selection_threshold(
            by_key["count"].noise, max_contributions=max_rows(card), delta=delta
        )
    return DryRun(cost, shares, pd.DataFrame(rows), threshold, level)


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise InvalidInput("level must be in (0, 1)")
    return NormalDist().inv_cdf(0.5 + level / 2.0)
