"""Plausible value shapes for mock columns, guessed from the card alone (name, type, bounds).

Money-like columns (income, wage, value…) are log-normal, counts (household
size, children…) are skewed to small values, ages and other numbers spread
over their range; everything is clipped to the card's bounds.
"""

from __future__ import annotations

import numpy as np

from insitu.tables.card import Column, ColumnType
from insitu.tables.variates import FloatArray, Variates

MONEY_WORDS = ("income", "wage", "salary", "value", "amount", "price", "cost", "revenue", "pay")
COUNT_WORDS = ("size", "count", "number", "children", "persons", "members", "visits", "n_")


def _has(name: str, words: tuple[str, ...]) -> bool:
    lowered = name.lower()
    return any(w in lowered for w in words)


def numeric_range(col: Column) -> tuple[float, float]:
    """The card's bounds, with a plausible default for a side the card leaves open."""
    width = 100_000.0 if _has(col.name, MONEY_WORDS) else 100.0
    lo, hi = col.lower, col.upper
    if lo is None and hi is None:
        lo, hi = 0.0, width
    elif lo is None:
        assert hi is not None
        lo = hi - width
    elif hi is None:
        hi = lo + width
    return float(lo), float(hi)


def numeric_values(col: Column, n: int, v: Variates) -> FloatArray:
    """``n`` values for a numeric column, within its bounds (integers already rounded)."""
    lo, hi = numeric_range(col)
    span = hi - lo
    if span == 0:
        return np.full(n, lo)
    if _has(col.name, MONEY_WORDS):
        # Log-normal with its median at a twelfth of the range: most small, a long right tail.
        median = span / 12.0
        x = lo + median * np.exp(0.9 * v.normal(n))
    elif _has(col.name, COUNT_WORDS):
        # Geometric-like: a few units above the lower bound, rarely more.
        x = lo + np.floor(-np.log1p(-v.uniform(n)) * max(1.0, min(span, 10.0) / 4.0))
    elif "age" in col.name.lower():
        # Ages over the whole range, thinning towards the top like a population pyramid:
        # density falling linearly to 40 % at the upper bound (inverse-CDF sampling).
        a = 0.6
        x = lo + span * (1.0 - np.sqrt(1.0 - 2.0 * a * (1.0 - a / 2.0) * v.uniform(n))) / a
    else:
        x = lo + span * v.uniform(n)
    x = np.clip(x, lo, hi)
    if col.type is ColumnType.INTEGER:
        ilo, ihi = np.ceil(lo), np.floor(hi)
        x = np.clip(np.round(x), ilo, ihi) if ilo <= ihi else np.full(n, ilo)
    elif _has(col.name, MONEY_WORDS):
        x = np.clip(np.round(x, 2), lo, hi)
    return np.asarray(x, dtype=np.float64)


def category_weights(col: Column, v: Variates) -> list[float]:
    """Unequal (Zipf-like) weights over the categories, in a shuffled order."""
    assert col.categories is not None
    k = len(col.categories)
    ranks = v.permutation(k)
    return [1.0 / float(r + 1) ** 0.8 for r in ranks]


def date_range_days(col: Column) -> tuple[int, int]:
    """Days since 1970-01-01 spanned by a mock date column (births go further back)."""
    if "birth" in col.name.lower():
        return int(np.datetime64("1930-01-01", "D").astype(int)), int(
            np.datetime64("2010-12-31", "D").astype(int)
        )
    return int(np.datetime64("2015-01-01", "D").astype(int)), int(
        np.datetime64("2025-12-31", "D").astype(int)
    )
