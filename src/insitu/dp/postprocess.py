"""Official-statistics post-processing of noisy tables; it costs no privacy.

Any function of DP output and public information is DP with the same
parameters (post-processing; Dwork & Roth 2014, Proposition 2.1). These
functions therefore only ever see noisy values and public settings, never
the private data: non-negativity, rounding, suppression of small noisy
counts and margins that add up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def nonnegative(values: Sequence[float]) -> list[float]:
    """Replace negative values by zero (counts, sums of non-negative columns)."""
    return [v if v > 0 else 0.0 for v in values]


def round_to(values: Sequence[float], *, digits: int = 0) -> list[float]:
    """Round half to even to ``digits`` decimals; NaN stays NaN."""
    return [v if math.isnan(v) else float(round(v, digits)) for v in values]


def suppressed(counts: Sequence[float], *, below: float) -> list[bool]:
    """Which cells to suppress: those whose *noisy* count is below ``below``.

    Deciding on the noisy count (not the true one) is what keeps this free
    of privacy cost; it also means a suppressed cell may truly hold more.
    """
    if not math.isfinite(below):
        raise ValueError("the suppression threshold must be finite")
    return [c < below for c in counts]


def margin_sums(
    cells: Sequence[tuple[tuple[object, ...], float]], *, axes: Sequence[int]
) -> dict[tuple[object, ...], float]:
    """Sum cell values over the key positions in ``axes`` (they become ``None``, i.e. "all").

    Margins computed from the released cells add up with them exactly, at
    the price of a noise variance that grows with the number of cells summed.
    """
    out: dict[tuple[object, ...], float] = {}
    drop = set(axes)
    for key, value in cells:
        mkey = tuple(None if i in drop else k for i, k in enumerate(key))
        out[mkey] = out.get(mkey, 0.0) + value
    return out
