"""Official-statistics post-processing of noisy tables; it costs no privacy.

Any function of DP output and public information is DP with the same
parameters (post-processing; Dwork & Roth 2014, Proposition 2.1). These
functions therefore only ever see noisy values and public settings, never
the private data: non-negativity, rounding, suppression of small noisy
counts and margins that add up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


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


Value = int | list[int]
"""A noisy integer, or a vector of them (histogram bins)."""


def margin_sums(
    cells: Mapping[tuple[object, ...], Mapping[str, Value]],
    *,
    axes: Sequence[int],
    label: object = None,
) -> dict[tuple[object, ...], tuple[dict[str, Value], int]]:
    """Sum every named value over the key positions in ``axes`` (which become ``label``).

    Returns, per margin key, the summed values (vectors element-wise) and the
    number of cells summed. Margins computed from the released noisy cells
    add up with them exactly, in integers; their noise variance is that of
    one cell times the number of cells.
    """
    drop = set(axes)
    out: dict[tuple[object, ...], tuple[dict[str, Value], int]] = {}
    for key, values in cells.items():
        mkey = tuple(label if i in drop else k for i, k in enumerate(key))
        acc, n = out.get(mkey, ({}, 0))
        for name, v in values.items():
            if isinstance(v, list):
                old = acc.get(name, [0] * len(v))
                assert isinstance(old, list)
                acc[name] = [a + b for a, b in zip(old, v, strict=True)]
            else:
                old_v = acc.get(name, 0)
                assert isinstance(old_v, int)
                acc[name] = old_v + v
        out[mkey] = (acc, n + 1)
    return out
