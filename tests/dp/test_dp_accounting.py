"""ρ-zCDP ↔ (ε, δ) conversions, pinned against OpenDP and the published bounds."""

from __future__ import annotations

import math

import opendp.prelude as dp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from insitu.dp.accounting import (
    PrivacyCost,
    epsilon_to_rho,
    max_rho_for,
    rho_to_epsilon,
    rho_to_epsilon_bs16,
)
from insitu.errors import InvalidInput

dp.enable_features("contrib")


def _opendp_epsilon(rho: float, delta: float) -> float:
    # A Gaussian with sensitivity 1 and scale 1/sqrt(2ρ) is exactly ρ-zCDP.
    m = dp.m.make_gaussian(
        dp.atom_domain(T="i64"), dp.absolute_distance(T="i64"), scale=1.0 / math.sqrt(2 * rho)
    )
    return float(dp.c.make_zCDP_to_approxDP(m).map(1).epsilon(delta))


@pytest.mark.parametrize("rho", [0.001, 0.05, 0.5, 2.0, 10.0])
@pytest.mark.parametrize("delta", [1e-5, 1e-6, 1e-9])
def test_conversion_matches_opendp(rho: float, delta: float) -> None:
    assert rho_to_epsilon(rho, delta=delta) == pytest.approx(_opendp_epsilon(rho, delta), rel=1e-6)


def test_pinned_values() -> None:
    # CKS 2020 Cor. 13 at ρ = 0.5, δ = 1e-6 (also what OpenDP 0.16 reports).
    assert rho_to_epsilon(0.5, delta=1e-6) == pytest.approx(5.2215344, abs=1e-6)
    # Bun & Steinke Prop. 1.3: ρ + 2√(ρ log 1/δ).
    assert rho_to_epsilon_bs16(0.5, delta=1e-6) == pytest.approx(
        0.5 + 2 * math.sqrt(0.5 * math.log(1e6))
    )
    assert epsilon_to_rho(1.0) == 0.5


@given(st.floats(1e-6, 50.0), st.floats(1e-12, 0.1))
def test_cks_never_worse_than_bs16(rho: float, delta: float) -> None:
    assert rho_to_epsilon(rho, delta=delta) <= rho_to_epsilon_bs16(rho, delta=delta) + 1e-12


@given(st.floats(1e-4, 20.0), st.floats(1e-10, 1e-3))
def test_max_rho_inverts_conversion(epsilon: float, delta: float) -> None:
    rho = max_rho_for(epsilon, delta=delta)
    assert rho_to_epsilon(rho, delta=delta) <= epsilon
    assert rho_to_epsilon(rho * 1.001 + 1e-12, delta=delta) > epsilon


def test_cost_constructors() -> None:
    z = PrivacyCost.zcdp(0.5, selection_delta=1e-8)
    assert not z.pure and z.rho == 0.5 and z.delta == pytest.approx(1e-6 + 1e-8)
    p = PrivacyCost.pure_dp(1.0)
    assert p.pure and p.epsilon == 1.0 and p.delta == 0 and p.rho == 0.5
    assert p.to_dict()["pure"] is True


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_parameters_refused(bad: float) -> None:
    with pytest.raises(InvalidInput):
        PrivacyCost.pure_dp(bad)
    with pytest.raises(InvalidInput):
        rho_to_epsilon(bad, delta=1e-6)


def test_bad_types_and_delta() -> None:
    with pytest.raises(TypeError):
        PrivacyCost.zcdp("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        rho_to_epsilon(1.0, delta=1.0)
    with pytest.raises(InvalidInput):
        rho_to_epsilon(1.0, delta=0.0)


def test_cost_round_trips_through_a_ledger_row() -> None:
    for cost in (PrivacyCost.zcdp(0.3, selection_delta=1e-9), PrivacyCost.pure_dp(0.7)):
        assert PrivacyCost.from_dict(cost.to_dict()) == cost
    row = PrivacyCost.pure_dp(0.7).to_dict()
    with pytest.raises(InvalidInput, match="inconsistent"):
        PrivacyCost.from_dict(row | {"rho": 0.0})
    with pytest.raises(InvalidInput, match="epsilon"):
        PrivacyCost.from_dict(row | {"epsilon": -1.0})
    with pytest.raises(InvalidInput, match="needs"):
        PrivacyCost.from_dict({"rho": 1.0})
