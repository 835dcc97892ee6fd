"""Layout of the shared vector: which local sums go where, with what precision.

Every statistic reduces to sums over rows of bounded per-row quantities
("blocks"): a row count, centred first and second moments, histogram cells,
the upper triangle of ZᵀZ for least squares, or the gradient and Hessian of
the logistic log-likelihood at the current coefficients. Each input party
sums its rows in float64 and encodes each *local sum* once, so the rounding
error of an aggregate is at most (number of inputs) · 2^-(f+1). The layout is
derived from the public spec alone, so every party computes the same one.

Headroom: each slot's fractional bits ``f`` are the most (≤ ``spec.frac_bits``)
for which ``max_rows × (largest per-row magnitude of the slot) × 2^f < 2^62``; the count
block lets the result party check that no more than ``max_rows`` rows were
summed, so an honest aggregate can never wrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from insitu.computations.secure_stats import features as ft
from insitu.computations.secure_stats.spec import (
    Count,
    CrossTable,
    Histogram,
    Logistic,
    Mean,
    Ols,
    Quantiles,
    SecureStatsSpec,
    Sum,
    Variance,
)
from insitu.crypto import fixed_point as fp
from insitu.errors import InvalidInput, NotFound
from insitu.tables.card import Card

COUNT_KEY = "count"


@dataclass(frozen=True)
class Block:
    """A run of slots in the shared vector, summed over rows and inputs.

    ``row_lo``/``row_hi`` bound one row's contribution to each slot (public);
    ``one_hot`` says a row adds to one slot only (histogram cells);
    ``rounds`` is how many aggregation rounds recompute it (1 for all but logistic).
    """

    key: str
    kind: str
    labels: tuple[str, ...]
    row_lo: tuple[float, ...]
    row_hi: tuple[float, ...]
    one_hot: bool
    exact: bool
    frac_bits: tuple[int, ...]
    rounds: int = 1
    params: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.labels)

    @property
    def grid_peaks(self) -> npt.NDArray[np.float64]:
        """Largest per-row magnitude of each slot, in grid units (× 2^frac_bits)."""
        peaks = np.maximum(np.abs(np.array(self.row_lo)), np.abs(np.array(self.row_hi)))
        return np.asarray(np.ldexp(peaks, np.array(self.frac_bits, dtype=np.int64)), np.float64)

    @property
    def min_frac_bits(self) -> int:
        """The coarsest precision among the block's slots."""
        return min(self.frac_bits)


def _interval_product(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    corners = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    return min(corners), max(corners)


def _pairs(k: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(k) for b in range(a, k)]


class Layout:
    """The blocks of a spec, in a fixed order, and their encoding.

    Parameters
    ----------
    spec:
        The job spec; only its public fields are used.
    """

    def __init__(self, spec: SecureStatsSpec) -> None:
        self.spec = spec
        self.card: Card = spec.card
        self.blocks: list[Block] = []
        self._add(COUNT_KEY, "count", ("rows",), [(0.0, 1.0)], exact=True, one_hot=True)
        for stat in spec.statistics:
            try:
                self._add_stat(stat)
            except NotFound as exc:  # a statistic names a column the card lacks
                raise InvalidInput(exc.message) from None
        self.rounds = max(b.rounds for b in self.blocks)

    # -- building ----------------------------------------------------------
    def _add(
        self,
        key: str,
        kind: str,
        labels: tuple[str, ...],
        ranges: list[tuple[float, float]],
        *,
        exact: bool,
        one_hot: bool = False,
        rounds: int = 1,
        params: tuple[str, ...] = (),
    ) -> None:
        if any(b.key == key for b in self.blocks):
            return
        limit = 0 if exact else self.spec.frac_bits
        peaks = [max(abs(lo), abs(hi)) for lo, hi in ranges]
        found = {
            p: fp.frac_bits_for(p * self.spec.max_rows, max_frac_bits=limit) for p in set(peaks)
        }
        bits = tuple(found[p] for p in peaks)
        self.blocks.append(
            Block(
                key=key,
                kind=kind,
                labels=labels,
                row_lo=tuple(lo for lo, _ in ranges),
                row_hi=tuple(hi for _, hi in ranges),
                one_hot=one_hot,
                exact=exact,
                frac_bits=bits,
                rounds=rounds,
                params=params,
            )
        )

    def _add_stat(self, stat: object) -> None:
        card = self.card
        if isinstance(stat, Count):
            self._add_wcount(stat.weight)
        elif isinstance(stat, Sum | Mean | Variance):
            self._add_moments(stat.column, stat.weight)
        elif isinstance(stat, Histogram | Quantiles):
            weight = stat.weight if isinstance(stat, Histogram) else None
            bins = stat.bins
            labels = tuple(ft.levels(card, stat.column, bins))
            w = ft.weight_bound(card, weight)
            self._add(
                f"hist:{stat.column}:{bins}:{weight}",
                "hist",
                labels,
                [(0.0, w)] * len(labels),
                exact=weight is None,
                one_hot=True,
                params=(stat.column, str(bins or ""), weight or ""),
            )
        elif isinstance(stat, CrossTable):
            rows, cols = ft.levels(card, stat.rows), ft.levels(card, stat.cols)
            labels = tuple(f"{r}|{c}" for r in rows for c in cols)
            w = ft.weight_bound(card, stat.weight)
            self._add(
                f"xtab:{stat.rows}:{stat.cols}:{stat.weight}",
                "xtab",
                labels,
                [(0.0, w)] * len(labels),
                exact=stat.weight is None,
                one_hot=True,
                params=(stat.rows, stat.cols, stat.weight or ""),
            )
        elif isinstance(stat, Ols):
            self._add_gram(stat)
        elif isinstance(stat, Logistic):
            self._add_logit(stat)

    def _add_wcount(self, weight: str | None) -> None:
        if weight is not None:
            w = ft.weight_bound(self.card, weight)
            self._add(
                f"wcount:{weight}",
                "wcount",
                ("sum_w",),
                [(0.0, w)],
                exact=False,
                one_hot=True,
                params=(weight,),
            )

    def _add_moments(self, column: str, weight: str | None) -> None:
        lo, hi = ft.bounds(self.card, column)
        half = (hi - lo) / 2.0
        w = ft.weight_bound(self.card, weight)
        self._add_wcount(weight)
        ranges = [(-w * half, w * half), (0.0, w * half * half)]
        self._add(
            f"moments:{column}:{weight}",
            "moments",
            ("sum_wd", "sum_wd2"),
            ranges,
            exact=False,
            params=(column, weight or ""),
        )

    def _add_gram(self, stat: Ols) -> None:
        terms = ft.design(self.card, stat.x, intercept=stat.intercept)
        feats = [t[0] for t in terms] + [ft.Feature(stat.y, *ft.bounds(self.card, stat.y))]
        pairs = _pairs(len(feats))
        ranges = [
            _interval_product((feats[a].lower, feats[a].upper), (feats[b].lower, feats[b].upper))
            for a, b in pairs
        ]
        labels = tuple(f"{feats[a].name}*{feats[b].name}" for a, b in pairs)
        self._add(
            f"gram:{stat.name or 'ols_' + stat.y}",
            "gram",
            labels,
            ranges,
            exact=False,
            params=(stat.y, *stat.x, "1" if stat.intercept else "0"),
        )

    def _add_logit(self, stat: Logistic) -> None:
        lo, hi = ft.bounds(self.card, stat.y)
        if lo < 0 or hi > 1:
            raise InvalidInput(f"logistic outcome {stat.y!r} must be bounded in [0, 1]")
        terms = ft.design(self.card, stat.x, intercept=stat.intercept)
        feats = [t[0] for t in terms]
        peaks = [max(abs(f.lower), abs(f.upper)) for f in feats]
        ranges = [(-p, p) for p in peaks]
        labels = [f"grad:{f.name}" for f in feats]
        for a, b in _pairs(len(feats)):
            plo, phi = _interval_product(
                (feats[a].lower, feats[a].upper), (feats[b].lower, feats[b].upper)
            )
            ranges.append((min(0.0, 0.25 * plo), max(0.0, 0.25 * phi)))
            labels.append(f"hess:{feats[a].name}*{feats[b].name}")
        self._add(
            f"logit:{stat.name or 'logistic_' + stat.y}",
            "logit",
            tuple(labels),
            ranges,
            exact=False,
            rounds=stat.iterations,
            params=(stat.y, *stat.x, "1" if stat.intercept else "0"),
        )

    # -- per round -----------------------------------------------------------
    def round_blocks(self, round_: int) -> list[Block]:
        """Blocks aggregated in round ``round_`` (all in round 0; then iterative ones)."""
        return [b for b in self.blocks if round_ < b.rounds and (round_ == 0 or b.rounds > 1)]

    def length(self, round_: int) -> int:
        """Number of ring elements shared in round ``round_``."""
        return sum(b.size for b in self.round_blocks(round_))

    def slot_params(
        self, round_: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Per-slot fractional bits and aggregate lower/upper bounds for ``round_``."""
        blocks = self.round_blocks(round_)
        f = np.concatenate([np.array(b.frac_bits, dtype=np.int64) for b in blocks])
        n = float(self.spec.max_rows)
        lo = np.concatenate([np.minimum(np.array(b.row_lo), 0.0) * n for b in blocks])
        hi = np.concatenate([np.maximum(np.array(b.row_hi), 0.0) * n for b in blocks])
        return f, lo, hi

    def split(
        self, round_: int, values: npt.NDArray[np.float64]
    ) -> dict[str, npt.NDArray[np.float64]]:
        """Cut a decoded vector of ``round_`` into blocks by key."""
        out: dict[str, npt.NDArray[np.float64]] = {}
        start = 0
        for b in self.round_blocks(round_):
            out[b.key] = values[start : start + b.size]
            start += b.size
        return out

    def block(self, key: str) -> Block:
        """The block with ``key``."""
        for b in self.blocks:
            if b.key == key:
                return b
        raise KeyError(key)


__all__ = ["COUNT_KEY", "Block", "Layout"]
