"""The privacy budget ledger: caps per dataset and per (dataset, analyst), and charges.

Costs are accounted in ρ-zCDP (a pure ε-DP query costs ρ = ε²/2, and is also
summed as pure ε). A charge is made in the same transaction that releases the
result, under a per-dataset lock, so concurrent requests never overspend and
a request that fails spends nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from insitu.dp.accounting import rho_to_epsilon
from insitu.errors import BudgetExceeded, InvalidInput
from insitu.node.clock import Clock
from insitu.node.services.audit_log import AuditLog
from insitu.node.store.base import Store
from insitu.node.store.records import BudgetCap, Charge

DEFAULT_DELTA = 1e-6


@dataclass(frozen=True)
class BudgetView:
    """What a dataset's budget looks like to one analyst, or in total (analyst = "")."""

    dataset: str
    analyst: str
    cap_rho: float | None
    spent_rho: float
    spent_pure_epsilon: float
    remaining_rho: float | None
    epsilon_at_delta: float
    delta: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _check_cost(cost: dict[str, Any]) -> float:
    rho = cost.get("rho")
    if (
        not isinstance(rho, int | float)
        or isinstance(rho, bool)
        or not math.isfinite(rho)
        or rho < 0
    ):
        raise InvalidInput("a privacy cost needs a finite, non-negative 'rho'")
    return float(rho)


class Budgets:
    """Set caps, charge costs, show the ledger."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    def set_cap(self, dataset: str, *, rho: float, analyst: str = "", by: str) -> BudgetCap:
        if not isinstance(rho, int | float) or not math.isfinite(rho) or rho < 0:
            raise InvalidInput("a budget cap needs a finite, non-negative rho")
        self._store.get_dataset(dataset)
        if analyst:
            self._store.get_member(analyst)
        eps = rho_to_epsilon(rho, delta=DEFAULT_DELTA) if rho > 0 else 0.0
        cap = BudgetCap(dataset, analyst, float(rho), eps, DEFAULT_DELTA, self._clock())
        with self._store.transaction():
            self._store.set_cap(cap)
            self._audit.record(
                by,
                "budget.cap_set",
                f"dataset:{dataset}",
                {"analyst": analyst, "rho": rho, "epsilon": eps, "delta": DEFAULT_DELTA},
            )
        return cap

    def _caps(self, dataset: str) -> dict[str, float]:
        return {c.analyst: c.rho for c in self._store.caps(dataset)}

    def check(self, datasets: list[str], analyst: str, cost: dict[str, Any]) -> None:
        """Raise ``BudgetExceeded`` if ``cost`` would not fit now (no lock, no spend)."""
        rho = _check_cost(cost)
        for dataset in datasets:
            self._fits(dataset, analyst, rho)

    def _fits(self, dataset: str, analyst: str, rho: float) -> None:
        caps = self._caps(dataset)
        charges = self._store.charges(dataset=dataset)
        total = sum(c.rho for c in charges)
        mine = sum(c.rho for c in charges if c.analyst == analyst)
        eps = 1e-12
        if "" in caps and total + rho > caps[""] + eps:
            left = max(caps[""] - total, 0)
            raise BudgetExceeded(
                f"dataset {dataset!r} has ρ={left:.6g} left in total; this needs ρ={rho:.6g}"
            )
        if analyst in caps and mine + rho > caps[analyst] + eps:
            left = max(caps[analyst] - mine, 0)
            raise BudgetExceeded(
                f"your budget on {dataset!r} has ρ={left:.6g} left; this needs ρ={rho:.6g}"
            )

    def charge(
        self, datasets: list[str], analyst: str, cost: dict[str, Any], *, request_id: int
    ) -> None:
        """Charge ``cost`` to each dataset; call inside the releasing transaction."""
        rho = _check_cost(cost)
        now = self._clock()
        for dataset in sorted(datasets):
            self._store.lock_budget(dataset)
            self._fits(dataset, analyst, rho)
            self._store.add_charge(
                Charge(
                    dataset,
                    analyst,
                    request_id,
                    rho,
                    now,
                    cost.get("epsilon"),
                    cost.get("delta"),
                    bool(cost.get("pure", False)),
                )
            )
            self._audit.record(
                "node",
                "budget.charged",
                f"dataset:{dataset}",
                {"analyst": analyst, "request": request_id, "cost": cost},
            )

    def view(self, dataset: str, analyst: str = "", *, delta: float = DEFAULT_DELTA) -> BudgetView:
        self._store.get_dataset(dataset)
        caps = self._caps(dataset)
        charges = self._store.charges(dataset=dataset, analyst=analyst or None)
        spent = sum(c.rho for c in charges)
        pure = sum(c.epsilon or 0.0 for c in charges if c.pure)
        cap = caps.get(analyst)
        return BudgetView(
            dataset,
            analyst,
            cap,
            spent,
            pure,
            None if cap is None else max(cap - spent, 0.0),
            rho_to_epsilon(spent, delta=delta) if spent > 0 else 0.0,
            delta,
        )

    def ledger(self, *, dataset: str | None = None, analyst: str | None = None) -> list[Charge]:
        return self._store.charges(dataset=dataset, analyst=analyst)
