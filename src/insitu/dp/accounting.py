"""Privacy costs and the conversions between ρ-zCDP, pure ε-DP and (ε, δ)-DP.

Units
-----
ρ (``rho``) is the zero-concentrated DP parameter of Bun & Steinke (2016), in
nats; ε (``epsilon``) is in nats; δ (``delta``) is a probability. All
functions are pure arithmetic: no randomness, no clock, no I/O.

References
----------
* M. Bun, T. Steinke. *Concentrated Differential Privacy: Simplifications,
  Extensions, and Lower Bounds.* TCC 2016. Proposition 1.3 (ρ-zCDP implies
  (ρ + 2√(ρ log(1/δ)), δ)-DP) and Proposition 1.4 (ε-DP implies ε²/2-zCDP).
* C. Canonne, G. Kamath, T. Steinke. *The Discrete Gaussian for Differential
  Privacy.* NeurIPS 2020. Corollary 13: the tighter ρ → (ε, δ) conversion used
  by :func:`rho_to_epsilon` (it is the conversion OpenDP implements, and the
  tests pin it against OpenDP).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from insitu.errors import InvalidInput

DEFAULT_DELTA = 1e-6
"""δ at which ρ-zCDP costs are shown as (ε, δ) when the caller names none."""


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, refusing non-numbers, NaN, infinities and negatives."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = "non-negative" if allow_zero else "positive"
        raise InvalidInput(f"{name} must be a finite {bound} number, got {value!r}")
    return v


def check_delta(delta: float, *, allow_zero: bool = False) -> float:
    """Return ``delta`` as a float in (0, 1) (or [0, 1) with ``allow_zero``)."""
    d = check_positive("delta", delta, allow_zero=allow_zero)
    if d >= 1:
        raise InvalidInput(f"delta must be below 1, got {delta!r}")
    return d


def epsilon_to_rho(epsilon: float) -> float:
    """ρ of an ε-DP mechanism: ε²/2 (Bun & Steinke 2016, Proposition 1.4)."""
    e = check_positive("epsilon", epsilon, allow_zero=True)
    return e * e / 2.0


def rho_to_epsilon_bs16(rho: float, *, delta: float) -> float:
    """ε of ρ-zCDP at ``delta`` by Bun & Steinke 2016, Proposition 1.3 (looser)."""
    r = check_positive("rho", rho, allow_zero=True)
    d = check_delta(delta)
    return r + 2.0 * math.sqrt(r * math.log(1.0 / d))


def _cks_epsilon(rho: float, log_inv_delta: float, alpha: float) -> float:
    a = alpha
    return a * rho + (log_inv_delta + (a - 1.0) * math.log1p(-1.0 / a) - math.log(a)) / (a - 1.0)


def rho_to_epsilon(rho: float, *, delta: float) -> float:
    """Smallest ε such that ρ-zCDP implies (ε, δ)-DP (Canonne, Kamath & Steinke 2020, Cor. 13).

    ε = min over α > 1 of αρ + (log(1/δ) + (α−1)·log(1−1/α) − log α) / (α−1),
    minimised by golden-section search on log(α−1); never worse than the
    Bun & Steinke bound, which caps the result.
    """
    r = check_positive("rho", rho, allow_zero=True)
    d = check_delta(delta)
    if r == 0.0:
        return 0.0
    lid = math.log(1.0 / d)
    lo, hi = -12.0, 16.0  # search over t = log(α − 1)
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, e = hi - g * (hi - lo), lo + g * (hi - lo)
    fc = _cks_epsilon(r, lid, 1.0 + math.exp(c))
    fe = _cks_epsilon(r, lid, 1.0 + math.exp(e))
    for _ in range(64):  # the bracket shrinks by 0.618 per step: 28 · 0.618^64 ≈ 1e-12
        if fc < fe:
            hi, e, fe = e, c, fc
            c = hi - g * (hi - lo)
            fc = _cks_epsilon(r, lid, 1.0 + math.exp(c))
        else:
            lo, c, fc = c, e, fe
            e = lo + g * (hi - lo)
            fe = _cks_epsilon(r, lid, 1.0 + math.exp(e))
    return max(0.0, min(fc, fe, rho_to_epsilon_bs16(r, delta=d)))


def max_rho_for(epsilon: float, *, delta: float) -> float:
    """Largest ρ whose conversion at ``delta`` is at most ``epsilon`` (bisection on ρ)."""
    e = check_positive("epsilon", epsilon, allow_zero=True)
    d = check_delta(delta)
    if e == 0.0:
        return 0.0
    lid = math.log(1.0 / d)
    lo = (math.sqrt(lid + e) - math.sqrt(lid)) ** 2  # Bun-Steinke inverse: always feasible
    hi = e  # ε ≥ ρ always, so ρ ≤ ε
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if rho_to_epsilon(mid, delta=d) <= e:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class PrivacyCost:
    """What one release costs, in the accounting it was made under.

    Attributes
    ----------
    rho:
        ρ-zCDP of the noise (for pure ε-DP releases, ε²/2).
    epsilon:
        Pure releases: their ε. zCDP releases: ε of the (ε, δ)-DP statement
        obtained from ρ at ``delta - selection_delta``.
    delta:
        Total δ of the (ε, δ) statement: the conversion δ (zCDP only) plus
        ``selection_delta``. Zero for a pure release without partition selection.
    pure:
        True if the noise is discrete Laplace and ε composes additively;
        False for discrete Gaussian noise accounted in ρ-zCDP.
    selection_delta:
        δ spent by DP partition selection (releasing keys not declared on the
        card); it composes additively in every accounting.
    """

    rho: float
    epsilon: float
    delta: float
    pure: bool
    selection_delta: float = 0.0

    @classmethod
    def zcdp(
        cls, rho: float, *, delta: float = DEFAULT_DELTA, selection_delta: float = 0.0
    ) -> PrivacyCost:
        """Cost of a ρ-zCDP release, shown as (ε, ``delta`` + ``selection_delta``)-DP."""
        r = check_positive("rho", rho, allow_zero=True)
        sd = check_delta(selection_delta, allow_zero=True)
        d = check_delta(delta)
        return cls(
            rho=r,
            epsilon=rho_to_epsilon(r, delta=d),
            delta=d + sd,
            pure=False,
            selection_delta=sd,
        )

    @classmethod
    def pure_dp(cls, epsilon: float, *, selection_delta: float = 0.0) -> PrivacyCost:
        """Cost of an ε-DP release (plus ``selection_delta`` for partition selection)."""
        e = check_positive("epsilon", epsilon, allow_zero=True)
        sd = check_delta(selection_delta, allow_zero=True)
        return cls(rho=epsilon_to_rho(e), epsilon=e, delta=sd, pure=True, selection_delta=sd)

    @classmethod
    def from_dict(cls, data: Any) -> PrivacyCost:
        """Rebuild a cost stored with :meth:`to_dict` (a ledger row), checking every field."""
        if not isinstance(data, dict):
            raise InvalidInput("a privacy cost must be a mapping")
        try:
            pure, rho, eps, delta = data["pure"], data["rho"], data["epsilon"], data["delta"]
            sel = data.get("selection_delta", 0.0)
        except KeyError as exc:
            raise InvalidInput(f"a privacy cost needs {exc.args[0]!r}") from None
        if not isinstance(pure, bool):
            raise InvalidInput("pure must be true or false")
        cost = cls(
            rho=check_positive("rho", rho, allow_zero=True),
            epsilon=check_positive("epsilon", eps, allow_zero=True),
            delta=check_delta(delta, allow_zero=True),
            pure=pure,
            selection_delta=check_delta(sel, allow_zero=True),
        )
        if cost.selection_delta > cost.delta or (pure and cost.rho != epsilon_to_rho(cost.epsilon)):
            raise InvalidInput("inconsistent privacy cost")
        return cost

    def to_dict(self) -> dict[str, float | bool]:
        """JSON-ready fields, for receipts and the ledger."""
        return {
            "rho": self.rho,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "pure": self.pure,
            "selection_delta": self.selection_delta,
        }
