"""Budget arithmetic adds up after random sequences of charges (Hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.dp.accounting import PrivacyCost, rho_to_epsilon
from insitu.dp.budget import Budget, Spent, can_spend, remaining, require_spend, total_epsilon
from insitu.errors import BudgetExceeded, InvalidInput

zcdp = st.builds(
    lambda r, s: PrivacyCost.zcdp(r, selection_delta=s),
    st.floats(1e-6, 2.0),
    st.sampled_from([0.0, 0.0, 1e-9, 1e-8]),
)
pure = st.builds(
    lambda e, s: PrivacyCost.pure_dp(e, selection_delta=s),
    st.floats(1e-4, 2.0),
    st.sampled_from([0.0, 0.0, 1e-9]),
)
costs = st.lists(st.one_of(zcdp, pure), max_size=25)
budgets = st.builds(Budget, st.floats(0.1, 20.0), st.sampled_from([1e-7, 1e-6, 1e-5]))


@given(costs)
def test_incremental_totals_equal_ledger_totals(items: list[PrivacyCost]) -> None:
    step = Spent()
    for c in items:
        step = step.add(c)
    whole = Spent.of(items)
    assert step.charges == whole.charges == len(items)
    for name in ("rho_zcdp", "epsilon_pure", "rho_pure", "selection_delta"):
        assert getattr(step, name) == pytest.approx(getattr(whole, name), rel=1e-9, abs=1e-15)
    assert whole.rho_zcdp == pytest.approx(math.fsum(c.rho for c in items if not c.pure))
    assert whole.epsilon_pure == pytest.approx(math.fsum(c.epsilon for c in items if c.pure))


@given(costs, st.randoms(use_true_random=False))
def test_ledger_order_does_not_matter(items: list[PrivacyCost], rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert Spent.of(items) == Spent.of(shuffled)


@settings(deadline=None)
@given(costs, st.sampled_from([1e-7, 1e-6]))
def test_total_never_decreases(items: list[PrivacyCost], delta: float) -> None:
    spent, last = Spent(), 0.0
    for c in items:
        spent = spent.add(c)
        now = total_epsilon(spent, delta=delta)
        assert now >= last - 1e-12
        last = now


@given(st.lists(pure, max_size=25), st.sampled_from([1e-7, 1e-6]))
def test_pure_ledger_is_at_most_the_plain_sum(items: list[PrivacyCost], delta: float) -> None:
    items = [PrivacyCost.pure_dp(c.epsilon) for c in items]
    spent = Spent.of(items)
    assert total_epsilon(spent, delta=delta) <= math.fsum(c.epsilon for c in items) + 1e-12


@given(st.lists(zcdp, max_size=25))
def test_zcdp_ledger_is_the_conversion_of_the_summed_rho(items: list[PrivacyCost]) -> None:
    items = [PrivacyCost.zcdp(c.rho) for c in items]
    spent = Spent.of(items)
    expected = rho_to_epsilon(spent.rho_zcdp, delta=1e-6) if items else 0.0
    assert total_epsilon(spent, delta=1e-6) == pytest.approx(expected)


@settings(max_examples=40, deadline=None)
@given(budgets, costs)
def test_admitted_charges_stay_within_the_cap(budget: Budget, items: list[PrivacyCost]) -> None:
    spent = Spent()
    for c in items:
        if can_spend(budget, spent, c):
            spent = spent.add(c)
        else:
            with pytest.raises(BudgetExceeded):
                require_spend([(budget, spent)], c)
        assert total_epsilon(spent, delta=budget.delta) <= budget.epsilon
        assert spent.selection_delta <= budget.delta


@settings(max_examples=25, deadline=None)
@given(budgets, costs)
def test_remaining_is_tight(budget: Budget, items: list[PrivacyCost]) -> None:
    spent = Spent()
    for c in items:
        if can_spend(budget, spent, c):
            spent = spent.add(c)
    left = remaining(budget, spent)
    assert 0.0 <= left.epsilon <= budget.epsilon
    if left.max_pure_epsilon > 0:
        assert can_spend(budget, spent, PrivacyCost.pure_dp(left.max_pure_epsilon))
    assert not can_spend(budget, spent, PrivacyCost.pure_dp(left.max_pure_epsilon * 1.01 + 1e-6))
    if left.max_rho > 0:
        assert can_spend(budget, spent, PrivacyCost.zcdp(left.max_rho))
    assert not can_spend(budget, spent, PrivacyCost.zcdp(left.max_rho * 1.01 + 1e-6))


def test_both_caps_must_hold() -> None:
    dataset = Budget(10.0, 1e-6, label="dataset")
    analyst = Budget(1.0, 1e-6, label="analyst")
    big = PrivacyCost.pure_dp(2.0)
    require_spend([(dataset, Spent())], big)
    with pytest.raises(BudgetExceeded, match="analyst"):
        require_spend([(dataset, Spent()), (analyst, Spent())], big)


def test_selection_delta_cannot_exceed_the_cap() -> None:
    b = Budget(100.0, 1e-8)
    assert not can_spend(b, Spent(), PrivacyCost.pure_dp(0.1, selection_delta=1e-7))


def test_budget_refuses_negative_values() -> None:
    with pytest.raises(InvalidInput):
        Budget(-1.0, 1e-6)
    with pytest.raises(InvalidInput):
        Budget(1.0, 2.0)
