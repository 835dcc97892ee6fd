"""An input party's local sums for one round: float64 block values, then ring encoding.

Nothing here leaves the input party in the clear: the encoded vector is
immediately secret-shared by :class:`~insitu.protocols.secure_aggregation.ShareDealer`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from insitu.computations.secure_stats import features as ft
from insitu.computations.secure_stats.layout import Block, Layout
from insitu.crypto import fixed_point as fp
from insitu.errors import InvalidInput
from insitu.tables.card import Card


def used_columns(layout: Layout) -> set[str]:
    """Columns the spec reads from each input table."""
    cols: set[str] = set()
    for b in layout.blocks:
        if b.kind in ("gram", "logit"):
            cols.update(b.params[:-1])
        elif b.kind == "hist":
            cols.update(p for p in (b.params[0], b.params[2]) if p)
        else:
            cols.update(p for p in b.params if p)
    return cols


def block_sums(
    block: Block, frame: pd.DataFrame, card: Card, betas: dict[str, list[float]]
) -> npt.NDArray[np.float64]:
    """The float64 sums over ``frame``'s rows for one block."""
    n = len(frame)
    if block.kind == "count":
        return np.array([float(n)])
    if block.kind == "wcount":
        return np.array([ft.numeric(frame, block.params[0]).sum()])
    if block.kind == "moments":
        column, weight = block.params
        lo, hi = ft.bounds(card, column)
        d = ft.numeric(frame, column) - (lo + hi) / 2.0
        wd = d * ft.numeric(frame, weight) if weight else d
        # np.sum sums pairwise (error ~ log n · ε), unlike BLAS dot products (~ n · ε)
        return np.array([np.sum(wd), np.sum(wd * d)])
    if block.kind == "hist":
        column, bins, weight = block.params
        idx = ft.cell_index(frame, card, column, int(bins) if bins else None)
        cell_w = ft.numeric(frame, weight) if weight else None
        return np.bincount(idx, weights=cell_w, minlength=block.size).astype(np.float64)
    if block.kind == "xtab":
        rows, cols, weight = block.params
        k_cols = len(ft.levels(card, cols))
        idx = ft.cell_index(frame, card, rows) * k_cols + ft.cell_index(frame, card, cols)
        cell_w = ft.numeric(frame, weight) if weight else None
        return np.bincount(idx, weights=cell_w, minlength=block.size).astype(np.float64)
    y_name, *x_names, intercept = block.params
    terms = ft.design(card, x_names, intercept=intercept == "1")
    x = ft.design_matrix(frame, terms)
    y = ft.numeric(frame, y_name)
    if block.kind == "gram":
        z = np.column_stack([x, y])
        gram = z.T @ z
        return gram[np.triu_indices(z.shape[1])].astype(np.float64)
    if block.kind == "logit":
        beta = np.asarray(betas.get(block.key, np.zeros(x.shape[1])), dtype=np.float64)
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        grad = x.T @ (y - p)
        hess = (x * (p * (1.0 - p))[:, None]).T @ x
        return np.concatenate([grad, hess[np.triu_indices(x.shape[1])]])
    raise InvalidInput(f"unknown block kind {block.kind!r}")  # pragma: no cover


def encode_round(
    layout: Layout,
    round_: int,
    frame: pd.DataFrame,
    card: Card,
    betas: dict[str, list[float]],
) -> npt.NDArray[np.uint64]:
    """The ring vector an input party shares in ``round_``.

    Raises
    ------
    InvalidInput
        If the table has more rows than the spec's ``max_rows`` or a sum
        leaves its declared range (a bounds check failed upstream).
    """
    if len(frame) > layout.spec.max_rows:
        raise InvalidInput("the table has more rows than the spec's max_rows allows")
    blocks = layout.round_blocks(round_)
    values = np.concatenate([block_sums(b, frame, card, betas) for b in blocks])
    f, lo, hi = layout.slot_params(round_)
    bound = np.maximum(np.abs(lo), np.abs(hi))
    # Float sums of in-range rows may exceed the exact bound by rounding only.
    return fp.encode(values, frac_bits=f, bound=bound * (1 + 1e-12))


__all__ = ["block_sums", "encode_round", "used_columns"]
