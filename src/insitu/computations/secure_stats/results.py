"""Statistics from aggregated sufficient statistics (run by the result party).

Only sums reach this module; everything here is post-processing, so it
changes neither the privacy guarantee nor what any other party learns.
Formulas follow the textbook normal equations (OLS) and Newton–Raphson on
the logistic log-likelihood (McCullagh & Nelder, *Generalized Linear Models*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from insitu.computations.secure_stats import features as ft
from insitu.computations.secure_stats.layout import COUNT_KEY, Block, Layout
from insitu.computations.secure_stats.spec import (
    Count,
    CrossTable,
    Histogram,
    Logistic,
    Mean,
    Ols,
    Quantiles,
    Statistic,
    Sum,
    Variance,
)
from insitu.errors import ExecutionFailed

Sums = dict[str, npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Regression:
    """Coefficients with standard errors; ``r2`` for OLS, ``None`` for logistic."""

    coef: dict[str, float]
    se: dict[str, float]
    n: float
    r2: float | None = None
    iterations: int = 0


def _full(upper: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.float64]:
    m = np.zeros((k, k))
    m[np.triu_indices(k)] = upper
    return m + np.triu(m, 1).T


def _solve(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    try:
        return np.asarray(np.linalg.solve(a, b), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise ExecutionFailed("the design matrix is singular; drop a collinear regressor") from None


def regressors(layout: Layout, block: Block) -> list[str]:
    """Names of the regressors of a ``gram`` or ``logit`` block."""
    _, *x_names, intercept = block.params
    return [t[0].name for t in ft.design(layout.card, x_names, intercept=intercept == "1")]


def ols(layout: Layout, block: Block, sums: Sums) -> Regression:
    """OLS fit from the upper triangle of ZᵀZ, Z = [X, y]."""
    names = regressors(layout, block)
    k = len(names)
    g = _full(sums[block.key], k + 1)
    xtx, xty, yty = g[:k, :k], g[:k, k], g[k, k]
    n = float(sums[COUNT_KEY][0])
    beta = _solve(xtx, xty)
    rss = max(float(yty - beta @ xty), 0.0)
    df = n - k
    if df <= 0:
        raise ExecutionFailed("fewer rows than regressors")
    cov = rss / df * np.linalg.inv(xtx)
    tss = float(yty - g[0, k] ** 2 / n) if block.params[-1] == "1" else float(yty)
    r2 = 1.0 - rss / tss if tss > 0 else float("nan")
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return Regression(
        coef=dict(zip(names, beta.tolist(), strict=True)),
        se=dict(zip(names, se.tolist(), strict=True)),
        n=n,
        r2=r2,
    )


def newton_step(
    layout: Layout, block: Block, sums: Sums, beta: list[float]
) -> tuple[list[float], npt.NDArray[np.float64]]:
    """One Newton step β + H⁻¹g from the round's gradient and Hessian; also H."""
    k = len(regressors(layout, block))
    values = sums[block.key]
    grad, hess = values[:k], _full(values[k:], k)
    step = _solve(hess, grad)
    return (np.asarray(beta) + step).tolist(), hess


def logistic(layout: Layout, block: Block, beta: list[float], hess: Any, n: float) -> Regression:
    """Final logistic fit: coefficients and standard errors from the last Hessian."""
    names = regressors(layout, block)
    cov = np.linalg.inv(np.asarray(hess))
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return Regression(
        coef=dict(zip(names, beta, strict=True)),
        se=dict(zip(names, se.tolist(), strict=True)),
        n=n,
        iterations=block.rounds,
    )


def _weight_total(layout: Layout, sums: Sums, weight: str | None) -> float:
    return float(sums[f"wcount:{weight}"][0] if weight else sums[COUNT_KEY][0])


def _quantiles(
    layout: Layout, stat: Quantiles, counts: npt.NDArray[np.float64]
) -> dict[str, float]:
    lo, hi = ft.bounds(layout.card, stat.column)
    counts = np.maximum(counts, 0.0)
    total = counts.sum()
    if total <= 0:
        raise ExecutionFailed("no rows to take quantiles of")
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    width = (hi - lo) / stat.bins
    out: dict[str, float] = {}
    for p in stat.probs:
        target = min(max(p, 0.0), 1.0) * total
        i = int(np.clip(np.searchsorted(cum, target, side="left") - 1, 0, stat.bins - 1))
        inside = (target - cum[i]) / counts[i] if counts[i] > 0 else 0.0
        out[f"{p:g}"] = float(lo + (i + min(max(inside, 0.0), 1.0)) * width)
    return out


def _cells(values: npt.NDArray[np.float64], exact: bool) -> list[float] | list[int]:
    if exact:
        return [int(v) for v in np.rint(values)]
    return [float(v) for v in values]


def statistic(layout: Layout, stat: Statistic, sums: Sums, exact: bool) -> Any:
    """The value of one non-iterative statistic from the round-0 sums."""
    if isinstance(stat, Count):
        total = _weight_total(layout, sums, stat.weight)
        return round(total) if exact and stat.weight is None else total
    if isinstance(stat, Sum | Mean | Variance):
        lo, hi = ft.bounds(layout.card, stat.column)
        centre = (lo + hi) / 2.0
        sw = _weight_total(layout, sums, stat.weight)
        swd, swd2 = (float(v) for v in sums[f"moments:{stat.column}:{stat.weight}"])
        if isinstance(stat, Sum):
            return centre * sw + swd
        if sw <= 0:
            raise ExecutionFailed(f"{stat.kind} of {stat.column!r} over no rows")
        if isinstance(stat, Mean):
            return centre + swd / sw
        if sw - stat.ddof <= 0:
            raise ExecutionFailed(f"variance of {stat.column!r} needs more than ddof rows")
        return max(swd2 - swd * swd / sw, 0.0) / (sw - stat.ddof)
    if isinstance(stat, Histogram):
        key = f"hist:{stat.column}:{stat.bins}:{stat.weight}"
        labels = layout.block(key).labels
        cells = _cells(sums[key], exact and stat.weight is None)
        return dict(zip(labels, cells, strict=True))
    if isinstance(stat, Quantiles):
        return _quantiles(layout, stat, sums[f"hist:{stat.column}:{stat.bins}:None"])
    if isinstance(stat, CrossTable):
        key = f"xtab:{stat.rows}:{stat.cols}:{stat.weight}"
        rows, cols = ft.levels(layout.card, stat.rows), ft.levels(layout.card, stat.cols)
        cells = _cells(sums[key], exact and stat.weight is None)
        return {
            r: dict(zip(cols, cells[i * len(cols) : (i + 1) * len(cols)], strict=True))
            for i, r in enumerate(rows)
        }
    if isinstance(stat, Ols):
        return ols(layout, layout.block(f"gram:{stat.name or 'ols_' + stat.y}"), sums)
    raise TypeError(f"{type(stat).__name__} is computed over rounds")  # pragma: no cover


def logit_key(stat: Logistic) -> str:
    """Block key of a logistic statistic."""
    return f"logit:{stat.name or 'logistic_' + stat.y}"


__all__ = ["Regression", "logistic", "logit_key", "newton_step", "ols", "regressors", "statistic"]
