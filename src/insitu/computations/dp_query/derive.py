"""Released numbers from noisy measurements: estimates, noise s.d. and confidence intervals.

Everything here is post-processing of already-private integers and the
public card, so it costs no privacy. Means, variances and quantiles are
ratios of noisy quantities; their standard deviations are first-order
(delta-method) approximations and their intervals are labelled as such in
the docs. Counts and sums have exact noise standard deviations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

from insitu.computations.dp_query.measures import Grid, Share
from insitu.computations.dp_query.plan import AggKind, Aggregate


@dataclass(frozen=True)
class Cell:
    """Noisy measurement values of one output row, summed over ``cells`` base groups."""

    values: dict[str, int | list[int]]
    cells: int = 1


@dataclass(frozen=True)
class Estimate:
    """One released number with its noise standard deviation and interval."""

    value: float
    sd: float
    low: float
    high: float


@lru_cache(maxsize=16)
def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _sd(share: Share, cell: Cell) -> float:
    return share.noise.sd * math.sqrt(cell.cells)


def _half(share: Share, cell: Cell, level: float) -> float:
    if cell.cells == 1:
        return share.noise.half_width(level)
    return _z(level) * _sd(share, cell)


def _scalar(cell: Cell, key: str) -> int:
    v = cell.values[key]
    assert isinstance(v, int)
    return v


def derive(
    agg: Aggregate,
    cell: Cell,
    shares: dict[str, Share],
    count_key: str,
    grids: dict[str, Grid],
    *,
    level: float,
) -> Estimate:
    """The estimate of ``agg`` for one output row (not for HISTOGRAM; see :func:`histogram`).

    ``count_key`` names the count measurement that normalises ``agg``
    (:func:`~insitu.computations.dp_query.measures.count_for`).
    """
    if agg.kind is AggKind.COUNT:
        c, sh = _scalar(cell, count_key), shares[count_key]
        h = _half(sh, cell, level)
        return Estimate(float(c), _sd(sh, cell), c - h, c + h)
    assert agg.column is not None
    g = grids[agg.column]
    if agg.kind is AggKind.SUM:
        key = f"sum:{agg.column}"
        s, sh = _scalar(cell, key), shares[key]
        h = _half(sh, cell, level)
        return Estimate(s * g.step, _sd(sh, cell) * g.step, (s - h) * g.step, (s + h) * g.step)
    if agg.kind in (AggKind.QUANTILE,):
        key = f"hist:{agg.column}:{agg.bins}"
        counts = cell.values[key]
        assert isinstance(counts, list) and agg.quantile is not None
        return quantile(counts, agg.quantile, g, _sd(shares[key], cell), level=level)
    c = _scalar(cell, count_key)
    n = max(float(c), 1.0)
    sd_c = _sd(shares[count_key], cell)
    t = float(_scalar(cell, f"csum:{agg.column}"))
    sd_t = _sd(shares[f"csum:{agg.column}"], cell)
    z = _z(level)
    centre = (g.lo + g.hi) * g.step / 2.0
    if agg.kind is AggKind.MEAN:
        # mean = (lo + hi)/2·step + (T/n)·step/2 ; first-order s.d. of T/n.
        ratio = t / n
        value = min(max(centre + ratio * g.step / 2.0, g.lower), g.upper)
        sd = math.sqrt(sd_t**2 + ratio**2 * sd_c**2) / n * g.step / 2.0
        return Estimate(value, sd, max(value - z * sd, g.lower), min(value + z * sd, g.upper))
    q = float(_scalar(cell, f"csq:{agg.column}"))
    sd_q = _sd(shares[f"csq:{agg.column}"], cell)
    scale = g.step**2 / 4.0
    top = ((g.hi - g.lo) * g.step / 2.0) ** 2
    var = min(max((q / n - (t / n) ** 2) * scale, 0.0), top)
    d_q, d_t, d_n = 1.0 / n, -2.0 * t / n**2, -q / n**2 + 2.0 * t**2 / n**3
    sd_var = scale * math.sqrt((d_q * sd_q) ** 2 + (d_t * sd_t) ** 2 + (d_n * sd_c) ** 2)
    if agg.kind is AggKind.VARIANCE:
        return Estimate(var, sd_var, max(var - z * sd_var, 0.0), min(var + z * sd_var, top))
    std = math.sqrt(var)
    sd_std = sd_var / (2.0 * std) if std > 0 else math.sqrt(sd_var)
    lo, hi = math.sqrt(max(var - z * sd_var, 0.0)), math.sqrt(min(var + z * sd_var, top))
    return Estimate(std, sd_std, lo, hi)


def _invert_cdf(cum: list[float], target: float, g: Grid) -> float:
    bins = len(cum)
    width = (g.upper - g.lower) / bins
    prev = 0.0
    for j, c in enumerate(cum):
        if c >= target and c > prev:
            frac = (target - prev) / (c - prev)
            return g.lower + (j + min(max(frac, 0.0), 1.0)) * width
        prev = c
    return g.upper


def quantile(counts: list[int], q: float, g: Grid, sd_bin: float, *, level: float) -> Estimate:
    """The q-quantile read off noisy bin counts (negatives set to zero), linear within a bin.

    The interval inverts the noisy CDF at q ± z·s/N, where s is the noise
    s.d. of a cumulative count halfway along the range (√(B/2)·σ) and N the
    noisy total; it is approximate and never narrower than one bin.
    """
    clean = [max(float(c), 0.0) for c in counts]
    cum: list[float] = []
    run = 0.0
    for c in clean:
        run += c
        cum.append(run)
    total = run
    if total <= 0:
        mid = (g.lower + g.upper) / 2.0
        return Estimate(mid, math.nan, g.lower, g.upper)
    value = _invert_cdf(cum, q * total, g)
    spread = _z(level) * sd_bin * math.sqrt(len(counts) / 2.0) / total
    width = (g.upper - g.lower) / len(counts)
    low = min(_invert_cdf(cum, max(q - spread, 0.0) * total, g), value - width / 2.0)
    high = max(_invert_cdf(cum, min(q + spread, 1.0) * total, g), value + width / 2.0)
    low, high = max(low, g.lower), min(high, g.upper)
    return Estimate(value, (high - low) / (2.0 * _z(level)), low, high)


def histogram(counts: list[int], share: Share, cell: Cell, *, level: float) -> list[Estimate]:
    """One count estimate per bin."""
    sd, h = _sd(share, cell), _half(share, cell, level)
    return [Estimate(float(c), sd, c - h, c + h) for c in counts]
