"""Turn a holder's table into bounded numeric features, checked against the card.

Every value an input party shares is derived from columns whose bounds or
categories the public card declares; this module checks the rows against the
card *before* anything is shared (an input party with a violation declines
the job) and gives the public per-row range of every feature, which fixes the
fixed-point headroom and the DP sensitivity.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from insitu.errors import CardViolation, InvalidInput
from insitu.tables.card import Card, Column, ColumnType

MAX_INTEGER_LEVELS = 10_000


@dataclass(frozen=True)
class Feature:
    """One numeric regressor: its name and public per-row range."""

    name: str
    lower: float
    upper: float


def bounds(card: Card, name: str) -> tuple[float, float]:
    """The declared ``(lower, upper)`` of a numeric or boolean column."""
    col = card.column(name)
    if col.type is ColumnType.BOOLEAN:
        return 0.0, 1.0
    if not col.type.numeric or col.lower is None or col.upper is None:
        raise InvalidInput(f"column {name!r} needs numeric lower and upper bounds in the card")
    return float(col.lower), float(col.upper)


def weight_bound(card: Card, weight: str | None) -> float:
    """Largest weight a row may carry (1 without weights); weights must be non-negative."""
    if weight is None:
        return 1.0
    lo, hi = bounds(card, weight)
    if lo < 0:
        raise InvalidInput(f"weight column {weight!r} must have a non-negative lower bound")
    return hi


def levels(card: Card, name: str, bins: int | None = None) -> list[str]:
    """Labels of the cells a column is counted into (categories, booleans, integers, bins)."""
    col = card.column(name)
    if col.type is ColumnType.CATEGORY:
        if bins is not None:
            raise InvalidInput(f"column {name!r} has categories; bins do not apply")
        return list(col.categories or [])
    if col.type is ColumnType.BOOLEAN:
        return ["false", "true"]
    lo, hi = bounds(card, name)
    if bins is None:
        if col.type is not ColumnType.INTEGER or hi - lo + 1 > MAX_INTEGER_LEVELS:
            raise InvalidInput(f"column {name!r} needs 'bins' (or a small integer range)")
        return [str(v) for v in range(int(lo), int(hi) + 1)]
    edges = np.linspace(lo, hi, bins + 1)
    return [f"[{a:g}, {b:g})" for a, b in itertools.pairwise(edges)]


def cell_index(
    frame: pd.DataFrame, card: Card, name: str, bins: int | None = None
) -> npt.NDArray[np.int64]:
    """Index of each row's cell in :func:`levels` (checked rows only)."""
    col = card.column(name)
    values = frame[name]
    if col.type is ColumnType.CATEGORY:
        cats = pd.Categorical(values.astype(str), categories=col.categories)
        return np.asarray(cats.codes, dtype=np.int64)
    if col.type is ColumnType.BOOLEAN:
        return np.asarray(values.astype(bool).to_numpy(), dtype=np.int64)
    lo, hi = bounds(card, name)
    x = np.asarray(values.to_numpy(), dtype=np.float64)
    if bins is None:
        return np.asarray(np.rint(x) - lo, dtype=np.int64)
    idx = np.floor((x - lo) / (hi - lo) * bins) if hi > lo else np.zeros_like(x)
    return np.asarray(np.clip(idx, 0, bins - 1), dtype=np.int64)


def numeric(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """A checked numeric or boolean column as float64."""
    return np.asarray(frame[name].to_numpy(), dtype=np.float64)


def design(
    card: Card, columns: list[str], *, intercept: bool
) -> list[tuple[Feature, str, str | None]]:
    """Regressors for ``columns``: ``(feature, column, category or None)`` triples.

    Numeric and boolean columns enter as they are; a category column enters as
    dummies for every category but the first (treatment coding).
    """
    out: list[tuple[Feature, str, str | None]] = []
    if intercept:
        out.append((Feature("const", 1.0, 1.0), "", None))
    for name in columns:
        col = card.column(name)
        if col.type is ColumnType.CATEGORY:
            for cat in (col.categories or [])[1:]:
                out.append((Feature(f"{name}[{cat}]", 0.0, 1.0), name, cat))
        else:
            lo, hi = bounds(card, name)
            out.append((Feature(name, lo, hi), name, None))
    return out


def design_matrix(
    frame: pd.DataFrame, terms: list[tuple[Feature, str, str | None]]
) -> npt.NDArray[np.float64]:
    """Rows × regressors matrix for the terms of :func:`design`."""
    out = np.empty((len(frame), len(terms)), dtype=np.float64)
    for k, (_, column, category) in enumerate(terms):
        if not column:
            out[:, k] = 1.0
        elif category is not None:
            out[:, k] = (frame[column].astype(str) == category).to_numpy(dtype=np.float64)
        else:
            out[:, k] = numeric(frame, column)
    return out


def check_rows(frame: pd.DataFrame, cards: Iterable[Card], columns: Iterable[str]) -> None:
    """Refuse a table whose used columns break any of ``cards``.

    Raises
    ------
    CardViolation
        Naming the column and the number of offending rows (never the values).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("the local table must be a pandas DataFrame")
    wanted = sorted(set(columns))
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise CardViolation(f"table lacks column(s): {', '.join(missing)}")
    problems: list[str] = []
    for card in cards:
        for name in wanted:
            bad = _broken(frame[name], card.column(name))
            if bad:
                problems.append(f"{card.name}.{name}: {bad} row(s) outside the card")
    if problems:
        raise CardViolation("; ".join(problems), details=problems)


def _broken(values: pd.Series, col: Column) -> int:
    nulls = values.isna()
    if col.type is ColumnType.CATEGORY:
        bad = ~values.astype(str).isin(col.categories or [])
    elif col.type is ColumnType.BOOLEAN:
        bad = ~values.isin([True, False, 0, 1])
    elif col.type.numeric:
        x = pd.to_numeric(values, errors="coerce")
        bad = x.isna() | ~np.isfinite(x.fillna(0.0))
        if col.lower is not None:
            bad |= x < col.lower
        if col.upper is not None:
            bad |= x > col.upper
        if col.type is ColumnType.INTEGER:
            bad |= x.fillna(0.0) != np.round(x.fillna(0.0))
    else:
        raise InvalidInput(f"column {col.name!r} of type {col.type} cannot be aggregated")
    return int((nulls | bad).sum())


__all__ = [
    "Feature",
    "bounds",
    "cell_index",
    "check_rows",
    "design",
    "design_matrix",
    "levels",
    "numeric",
    "weight_bound",
]
