"""Pure privacy-budget arithmetic: caps, running totals, and whether a cost still fits.

The node keeps the ledger (one row per charge) and calls these functions
inside the transaction that charges it; nothing here stores anything.

Accounting
----------
A dataset (or a dataset and one analyst) has a :class:`Budget`: a cap of
(ε, δ)-DP in nats. Charges accumulate in :class:`Spent`, kept in three parts:

* ρ of discrete-Gaussian (zCDP) releases, which add (Bun & Steinke 2016, Lemma 2.3);
* ε of discrete-Laplace (pure) releases, which add (basic composition), and
  their ρ = ε²/2 (Bun & Steinke 2016, Proposition 1.4);
* δ of partition selection, which adds in every accounting.

The total ε at the cap's δ is the smallest of the valid bounds: basic
composition of pure ε with the converted zCDP part, and the conversion of
the whole in zCDP (Canonne, Kamath & Steinke 2020, Corollary 13). Pure-only
ledgers therefore never show more than the plain sum of their ε. Every bound
is non-decreasing in each part, so the total never goes down as charges add.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from insitu.dp.accounting import PrivacyCost, check_delta, check_positive, rho_to_epsilon
from insitu.errors import BudgetExceeded


@dataclass(frozen=True)
class Budget:
    """A cap of (``epsilon``, ``delta``)-DP for one dataset, or one (dataset, analyst)."""

    epsilon: float
    delta: float
    label: str = "budget"

    def __post_init__(self) -> None:
        check_positive("epsilon", self.epsilon, allow_zero=True)
        check_delta(self.delta, allow_zero=True)


@dataclass(frozen=True)
class Spent:
    """Running totals of the charges made against one budget."""

    rho_zcdp: float = 0.0
    epsilon_pure: float = 0.0
    rho_pure: float = 0.0
    selection_delta: float = 0.0
    charges: int = field(default=0)

    def add(self, cost: PrivacyCost) -> Spent:
        """Totals after one more charge of ``cost``."""
        return Spent(
            rho_zcdp=self.rho_zcdp + (0.0 if cost.pure else cost.rho),
            epsilon_pure=self.epsilon_pure + (cost.epsilon if cost.pure else 0.0),
            rho_pure=self.rho_pure + (cost.rho if cost.pure else 0.0),
            selection_delta=self.selection_delta + cost.selection_delta,
            charges=self.charges + 1,
        )

    @classmethod
    def of(cls, costs: Iterable[PrivacyCost]) -> Spent:
        """Totals of a whole ledger, summed with :func:`math.fsum` (order-independent)."""
        items = list(costs)
        return cls(
            rho_zcdp=math.fsum(c.rho for c in items if not c.pure),
            epsilon_pure=math.fsum(c.epsilon for c in items if c.pure),
            rho_pure=math.fsum(c.rho for c in items if c.pure),
            selection_delta=math.fsum(c.selection_delta for c in items),
            charges=len(items),
        )


def total_epsilon(spent: Spent, *, delta: float) -> float:
    """ε of everything in ``spent`` as one (ε, ``delta``)-DP statement; ``inf`` if δ is used up."""
    d = check_delta(delta, allow_zero=True)
    room = d - spent.selection_delta
    if spent.selection_delta > d:
        return math.inf
    candidates: list[float] = []
    if spent.rho_zcdp == 0.0:
        candidates.append(spent.epsilon_pure)
    if room > 0.0:
        candidates.append(spent.epsilon_pure + rho_to_epsilon(spent.rho_zcdp, delta=room))
        candidates.append(rho_to_epsilon(spent.rho_zcdp + spent.rho_pure, delta=room))
    return min(candidates) if candidates else math.inf


def can_spend(budget: Budget, spent: Spent, cost: PrivacyCost) -> bool:
    """Whether charging ``cost`` on top of ``spent`` keeps within ``budget``."""
    after = spent.add(cost)
    if after.selection_delta > budget.delta:
        return False
    return total_epsilon(after, delta=budget.delta) <= budget.epsilon


def require_spend(pairs: Sequence[tuple[Budget, Spent]], cost: PrivacyCost) -> None:
    """Raise :class:`BudgetExceeded` naming the first budget ``cost`` does not fit in.

    The node passes the dataset's budget and the (dataset, analyst) budget
    with their current totals; a charge must fit in all of them.
    """
    for budget, spent in pairs:
        if not can_spend(budget, spent, cost):
            left = remaining(budget, spent)
            raise BudgetExceeded(
                f"{budget.label}: this query costs ε={cost.epsilon:.4g} (ρ={cost.rho:.4g}, "
                f"δ={cost.delta:.3g}) but only ε={left.epsilon:.4g} remains "
                f"of ε={budget.epsilon:g}, δ={budget.delta:g}",
                details={"budget": budget.label, "remaining": left.to_dict()},
            )


@dataclass(frozen=True)
class Remaining:
    """What is left of a budget: the cap minus the total, and the largest next charges."""

    epsilon: float
    max_rho: float
    max_pure_epsilon: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready fields."""
        return {
            "epsilon": self.epsilon,
            "max_rho": self.max_rho,
            "max_pure_epsilon": self.max_pure_epsilon,
        }


def _largest(fits: Callable[[float], bool], upper: float) -> float:
    if not fits(0.0):
        return 0.0
    lo, hi = 0.0, upper
    if fits(hi):
        return hi
    for _ in range(50):
        mid = (lo + hi) / 2.0
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def remaining(budget: Budget, spent: Spent) -> Remaining:
    """Remaining ε (cap minus total, never negative) and the largest ρ / pure ε that still fit."""
    used = total_epsilon(spent, delta=budget.delta)
    cap = budget.epsilon
    return Remaining(
        epsilon=max(0.0, cap - used) if math.isfinite(used) else 0.0,
        max_rho=_largest(lambda r: can_spend(budget, spent, _zcdp(r, budget)), cap),
        max_pure_epsilon=_largest(lambda e: can_spend(budget, spent, PrivacyCost.pure_dp(e)), cap),
    )


def _zcdp(rho: float, budget: Budget) -> PrivacyCost:
    # The conversion δ shown on a single cost is irrelevant here: the ledger
    # converts the summed ρ at the budget's own δ.
    return PrivacyCost(rho=rho, epsilon=math.nan, delta=budget.delta, pure=False)
