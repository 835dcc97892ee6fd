"""Additive integer-noise mechanisms: scales from a budget, noisy release, error bars, thresholds.

Threat model: the analyst sees only the noisy output and the public card;
everything returned here is safe to release. Values arrive already on an
integer (fixed-point) grid with a known sensitivity, so the noise is added
exactly in integer arithmetic and the floating-point attacks on textbook
Laplace/Gaussian code (Mironov 2012) do not apply. Noise comes only from
OpenDP's exact samplers (:mod:`insitu.dp.noise`), which draw from the OS
CSPRNG; nothing here takes a seed.

Units: ``rho`` is ρ-zCDP, ``epsilon`` is ε in nats, ``delta`` a probability;
``sensitivity`` and ``scale`` are in grid units.

* Discrete Gaussian N_Z(0, σ²) with L2 sensitivity Δ₂ is Δ₂²/(2σ²)-zCDP
  (Canonne, Kamath & Steinke 2020, Theorem 4).
* Discrete Laplace with scale b and L1 sensitivity Δ₁ is (Δ₁/b)-DP
  (Ghosh, Roughgarden & Sundararajan 2009; CKS 2020 §2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

from insitu.dp import noise
from insitu.dp.accounting import check_delta, check_positive


class NoiseKind(StrEnum):
    """Which OpenDP sampler a release uses."""

    GAUSSIAN = "discrete_gaussian"
    LAPLACE = "discrete_laplace"


@dataclass(frozen=True)
class NoiseSpec:
    """One additive mechanism: its kind and scale (σ or b) in grid units."""

    kind: NoiseKind
    scale: float

    @property
    def sd(self) -> float:
        """Standard deviation of one noise draw, in grid units.

        Gaussian: σ (the discrete Gaussian's variance is at most σ², CKS 2020
        Corollary 9). Laplace: √(2q)/(1−q) with q = e^(−1/b), its exact value.
        """
        if self.scale == 0:
            return 0.0
        if self.kind is NoiseKind.GAUSSIAN:
            return self.scale
        q = math.exp(-1.0 / self.scale)
        return math.sqrt(2.0 * q) / (1.0 - q)

    def half_width(self, level: float = 0.95) -> float:
        """Half-width t of a ``level`` interval: P(|noise| ≤ t) ≈ ``level``.

        Gaussian: z·σ from the continuous normal (the discrete Gaussian's tails
        are slightly lighter, so coverage is at least nominal up to rounding).
        Laplace: the exact smallest integer t with P(|noise| > t) ≤ 1 − level.
        """
        if not 0 < level < 1:
            raise ValueError("level must be in (0, 1)")
        if self.scale == 0:
            return 0.0
        if self.kind is NoiseKind.GAUSSIAN:
            return NormalDist().inv_cdf(0.5 + level / 2.0) * self.scale
        q = math.exp(-1.0 / self.scale)
        if q == 0.0:  # scale so small that every draw is 0
            return 0.0
        # P(|X| >= m) = 2 q^m / (1 + q) for integers m >= 1.
        m = math.ceil(math.log((1.0 - level) * (1.0 + q) / 2.0) / math.log(q))
        return float(max(m - 1, 0))


def gaussian_for(*, sensitivity: float, rho: float) -> NoiseSpec:
    """Discrete Gaussian with σ = Δ₂ / √(2ρ), which is ρ-zCDP."""
    s = check_positive("sensitivity", sensitivity, allow_zero=True)
    r = check_positive("rho", rho)
    return NoiseSpec(NoiseKind.GAUSSIAN, s / math.sqrt(2.0 * r))


def laplace_for(*, sensitivity: float, epsilon: float) -> NoiseSpec:
    """Discrete Laplace with b = Δ₁ / ε, which is ε-DP."""
    s = check_positive("sensitivity", sensitivity, allow_zero=True)
    e = check_positive("epsilon", epsilon)
    return NoiseSpec(NoiseKind.LAPLACE, s / e)


def add_noise(values: Sequence[int], spec: NoiseSpec) -> list[int]:
    """``values`` plus independent OpenDP noise, exactly, as Python integers.

    The draws come from :func:`insitu.dp.noise.discrete_gaussian` or
    :func:`~insitu.dp.noise.discrete_laplace`; the sum is taken in Python
    integers so values beyond 64 bits (sums of squares) never overflow.
    """
    n = len(values)
    if spec.kind is NoiseKind.GAUSSIAN:
        draws = noise.discrete_gaussian(n, scale=spec.scale)
    else:
        draws = noise.discrete_laplace(n, scale=spec.scale)
    return [int(v) + int(z) for v, z in zip(values, draws.tolist(), strict=True)]


def selection_threshold(spec: NoiseSpec, *, max_contributions: int, delta: float) -> int:
    """Noisy-count threshold τ for DP partition selection at failure probability ``delta``.

    A key is released only if its noisy count is at least τ. A key that
    exists only because of one privacy unit has a true count of at most
    ``max_contributions`` (k), and one unit can create at most k such keys,
    so the chance that any of them is released is at most
    k·P(noise ≥ τ − k) ≤ ``delta`` when

    * Gaussian: τ = k + ⌈σ·√(2 log(k/δ))⌉, since the discrete Gaussian is
      σ-subgaussian (CKS 2020, Corollary 9);
    * Laplace: τ = k + ⌈b·log(k/δ)⌉, since P(X ≥ t) = e^(−t/b)/(1+e^(−1/b)) ≤ e^(−t/b).

    This is the thresholding of Korolova et al. (2009) and Wilson et al.
    (2020, "Differentially Private SQL with Bounded User Contribution").
    """
    k = int(max_contributions)
    if k < 1:
        raise ValueError("max_contributions must be at least 1")
    d = check_delta(delta)
    if spec.kind is NoiseKind.GAUSSIAN:
        extra = spec.scale * math.sqrt(2.0 * math.log(k / d))
    else:
        extra = spec.scale * math.log(k / d)
    return k + math.ceil(extra)
