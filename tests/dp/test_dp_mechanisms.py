"""Released noise follows the declared distribution and scale (goodness of fit with scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from insitu.dp.mechanisms import (
    NoiseKind,
    NoiseSpec,
    add_noise,
    gaussian_for,
    laplace_for,
    selection_threshold,
)
from insitu.errors import InvalidInput

DRAWS = 20_000
ALPHA = 1e-4  # a correct sampler fails one run in 10,000


def _pmf(spec: NoiseSpec, support: np.ndarray) -> np.ndarray:
    if spec.kind is NoiseKind.GAUSSIAN:
        w = np.exp(-(support.astype(float) ** 2) / (2 * spec.scale**2))
    else:
        w = np.exp(-np.abs(support.astype(float)) / spec.scale)
    return w / w.sum()


def _chi2_pvalue(draws: np.ndarray, spec: NoiseSpec) -> float:
    width = math.ceil(12 * spec.scale) + 2
    support = np.arange(-width, width + 1)
    p = _pmf(spec, support)
    # Pool the tails so every expected count is at least 5.
    expected = p * draws.size
    keep = expected >= 5
    lo, hi = support[keep][0], support[keep][-1]
    obs = [np.sum(draws <= lo)]
    exp = [p[support <= lo].sum()]
    for v in range(lo + 1, hi):
        obs.append(np.sum(draws == v))
        exp.append(p[support == v].sum())
    obs.append(np.sum(draws >= hi))
    exp.append(p[support >= hi].sum())
    exp_counts = np.array(exp) / np.sum(exp) * draws.size
    return float(stats.chisquare(np.array(obs), exp_counts).pvalue)


@pytest.mark.parametrize(
    "spec",
    [NoiseSpec(NoiseKind.GAUSSIAN, 3.0), NoiseSpec(NoiseKind.LAPLACE, 2.5)],
    ids=["gaussian", "laplace"],
)
def test_noise_fits_declared_distribution(spec: NoiseSpec) -> None:
    values = [1000] * DRAWS
    draws = np.array(add_noise(values, spec)) - 1000
    assert _chi2_pvalue(draws, spec) > ALPHA
    # The same test has power: a 25% larger scale is rejected.
    wrong = NoiseSpec(spec.kind, spec.scale * 1.25)
    assert _chi2_pvalue(draws, wrong) < ALPHA
    assert np.std(draws) == pytest.approx(spec.sd, rel=0.05)


@pytest.mark.parametrize(
    "spec",
    [NoiseSpec(NoiseKind.GAUSSIAN, 40.0), NoiseSpec(NoiseKind.LAPLACE, 7.0)],
    ids=["gaussian", "laplace"],
)
def test_interval_coverage_is_nominal(spec: NoiseSpec) -> None:
    draws = np.array(add_noise([0] * DRAWS, spec))
    inside = np.mean(np.abs(draws) <= spec.half_width(0.95))
    # Binomial s.d. at n = 20,000 is 0.0015: allow 4 s.d. (the Laplace interval is conservative).
    assert 0.944 <= inside <= 0.962


def test_exact_integer_addition_beyond_64_bits() -> None:
    big = 2**80 + 3
    out = add_noise([big, -big], NoiseSpec(NoiseKind.GAUSSIAN, 0.0))
    assert out == [big, -big]
    noisy = add_noise([big], NoiseSpec(NoiseKind.LAPLACE, 1.0))
    assert abs(noisy[0] - big) < 200


def test_scales_from_budget() -> None:
    assert gaussian_for(sensitivity=2, rho=0.5).scale == pytest.approx(2.0)
    assert laplace_for(sensitivity=3, epsilon=1.5).scale == pytest.approx(2.0)
    with pytest.raises(InvalidInput):
        gaussian_for(sensitivity=1, rho=-0.1)
    with pytest.raises(InvalidInput):
        laplace_for(sensitivity=1, epsilon=0.0)


@pytest.mark.parametrize("kind", list(NoiseKind))
def test_selection_threshold_bounds_delta(kind: NoiseKind) -> None:
    spec = NoiseSpec(kind, 4.0)
    k, delta = 3, 1e-6
    tau = selection_threshold(spec, max_contributions=k, delta=delta)
    support = np.arange(-4000, 4001)
    p = _pmf(spec, support)
    # A key created by one unit has count c <= k; its release probability is P(c + Z >= tau).
    worst = p[support >= tau - k].sum()
    assert k * worst <= delta
    # And the threshold is not absurdly loose: one step lower would still be close to delta.
    assert k * p[support >= tau - k - int(4 * spec.scale)].sum() > delta
