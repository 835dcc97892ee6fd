"""Differentially private release of PSI cardinality and intersection-sum outputs.

Pure functions; the node charges the budget (ε, in nats) before calling them.
Noise comes only from OpenDP's exact samplers via :mod:`insitu.dp.noise`.

Neighbouring inputs: one party's table differs in one privacy unit, and each
privacy unit contributes at most one distinct key per table. The intersection
size then changes by at most 1 (L1 sensitivity 1) and the intersection-sum by
at most ``value_bound`` (the largest value a row may hold, in value units).
With both tables' units in scope, a unit present in both tables still moves
each output by at most these amounts.
"""

from __future__ import annotations

import math

from insitu.dp.noise import add_discrete_laplace
from insitu.errors import InvalidInput


def _check_epsilon(epsilon: float) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise TypeError("epsilon must be a number")
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidInput("epsilon must be finite and positive")
    return float(epsilon)


def noisy_cardinality(count: int, *, epsilon: float) -> int:
    """``count`` plus discrete Laplace noise of scale ``1/ε``: ε-DP (sensitivity 1).

    The result may be negative; clamp for display only after release.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput("count must be a non-negative integer")
    return int(add_discrete_laplace([count], scale=1.0 / _check_epsilon(epsilon))[0])


def noisy_sum(total: int, *, epsilon: float, value_bound: int) -> int:
    """``total`` plus discrete Laplace noise of scale ``value_bound/ε``: ε-DP.

    ``value_bound`` is the largest value one row may hold (the L1 sensitivity).
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise InvalidInput("total must be a non-negative integer")
    if isinstance(value_bound, bool) or not isinstance(value_bound, int) or value_bound < 1:
        raise InvalidInput("value_bound must be a positive integer")
    if total >= 1 << 62:
        raise InvalidInput("total too large for 64-bit noise addition")
    scale = value_bound / _check_epsilon(epsilon)
    return int(add_discrete_laplace([total], scale=scale)[0])


def noisy_count_and_sum(
    count: int, total: int, *, epsilon: float, value_bound: int
) -> tuple[int, int]:
    """Both intersection-sum outputs under ε-DP in total (ε/2 each, basic composition)."""
    half = _check_epsilon(epsilon) / 2
    return (
        noisy_cardinality(count, epsilon=half),
        noisy_sum(total, epsilon=half, value_bound=value_bound),
    )


__all__ = ["noisy_cardinality", "noisy_count_and_sum", "noisy_sum"]
