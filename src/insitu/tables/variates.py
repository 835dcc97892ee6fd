"""Uniform, normal and categorical variates drawn from an ``Rng`` byte stream.

The project never uses ``random`` or ``numpy.random``. Public synthetic data
(mocks, example tables) draws its variates from a byte source instead: a
seeded :class:`~insitu.crypto.rng.DeterministicRng` when it must be
reproducible, the OS otherwise. These variates are for synthetic data only,
never for privacy noise (that is :mod:`insitu.dp.noise`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from insitu.crypto.rng import DeterministicRng, Rng

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_TWO_POW_53 = float(2**53)


class Variates:
    """Vectorised variates from ``rng``'s bytes (8 bytes per uniform)."""

    def __init__(self, rng: Rng) -> None:
        self._rng = rng

    @classmethod
    def seeded(cls, seed: bytes, label: str = "") -> Variates:
        """Reproducible variates for ``seed``; distinct labels give independent streams."""
        return cls(DeterministicRng(seed + b"\x00" + label.encode("utf-8")))

    def uniform(self, n: int) -> FloatArray:
        """``n`` uniforms on [0, 1) with 53 random bits each."""
        if n < 0:
            raise ValueError("n must be non-negative")
        words = np.frombuffer(self._rng(8 * n), dtype=">u8")
        return (words >> np.uint64(11)).astype(np.float64) / _TWO_POW_53

    def normal(self, n: int) -> FloatArray:
        """``n`` standard normal draws (Box–Muller)."""
        u1 = 1.0 - self.uniform(n)  # (0, 1], so the log is finite
        u2 = self.uniform(n)
        out: FloatArray = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)
        return out

    def integers(self, low: int, high: int, n: int) -> IntArray:
        """``n`` integers uniform on [low, high] (inclusive)."""
        if high < low:
            raise ValueError("high must be at least low")
        span = float(high - low + 1)
        picks = np.floor(self.uniform(n) * span)
        return (np.minimum(picks, span - 1).astype(np.int64) + low).astype(np.int64)

    def choice(self, weights: Sequence[float], n: int) -> IntArray:
        """``n`` indices into ``weights``, each drawn with probability proportional to it."""
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("weights must be a non-empty list of non-negative numbers")
        cdf = np.cumsum(w) / w.sum()
        picks = np.searchsorted(cdf, self.uniform(n), side="right")
        return np.minimum(picks, w.size - 1).astype(np.int64)

    def bernoulli(self, p: float | FloatArray, n: int) -> npt.NDArray[np.bool_]:
        """``n`` booleans, each true with probability ``p`` (a number or one per draw)."""
        return self.uniform(n) < p

    def permutation(self, n: int) -> IntArray:
        """A uniformly shuffled ``0..n-1`` (sort by random keys)."""
        return np.argsort(self.uniform(n), kind="stable").astype(np.int64)
