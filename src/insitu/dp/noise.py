"""Integer noise drawn by OpenDP's samplers (discrete Gaussian, discrete Laplace).

Never write a noise sampler of our own: these functions only shape calls to
OpenDP, whose samplers are exact and draw from the OS CSPRNG, so the
floating-point attacks on textbook Laplace/Gaussian code do not apply.
Callers work on an integer (fixed-point) grid and scale back afterwards.

Units: ``scale`` is the standard deviation parameter σ of the discrete
Gaussian, or the scale b of the discrete Laplace, in grid units.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import opendp.prelude as dp

dp.enable_features("contrib")

_CHUNK = 1 << 16


@lru_cache(maxsize=256)
def _measurement(kind: str, scale: float) -> Any:
    domain = dp.vector_domain(dp.atom_domain(T="i64"))
    if kind == "gaussian":
        return dp.m.make_gaussian(domain, dp.l2_distance(T="i64"), scale=scale)
    return dp.m.make_laplace(domain, dp.l1_distance(T="i64"), scale=scale)


def _check_scale(scale: float) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise TypeError("scale must be a number")
    scale = float(scale)
    if not np.isfinite(scale) or scale < 0:
        raise ValueError("scale must be finite and non-negative")
    return scale


def _sample(kind: str, scale: float, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    scale = _check_scale(scale)
    arr = np.asarray(values, dtype=np.int64).ravel()
    if scale == 0.0 or arr.size == 0:
        return arr.copy()
    measurement = _measurement(kind, scale)
    out = np.empty_like(arr)
    for start in range(0, arr.size, _CHUNK):
        chunk = arr[start : start + _CHUNK]
        out[start : start + chunk.size] = measurement(chunk.tolist())
    return out


def add_discrete_gaussian(values: npt.ArrayLike, *, scale: float) -> npt.NDArray[np.int64]:
    """Add discrete Gaussian noise N_Z(0, scale²) to each integer in ``values``.

    Satisfies ρ-zCDP with ρ = Δ₂² / (2·scale²) for L2 sensitivity Δ₂.
    """
    return _sample("gaussian", scale, values)


def add_discrete_laplace(values: npt.ArrayLike, *, scale: float) -> npt.NDArray[np.int64]:
    """Add discrete Laplace noise with scale ``scale`` to each integer in ``values``.

    Satisfies ε-DP with ε = Δ₁ / scale for L1 sensitivity Δ₁.
    """
    return _sample("laplace", scale, values)


def discrete_gaussian(size: int, *, scale: float) -> npt.NDArray[np.int64]:
    """``size`` independent discrete Gaussian draws centred on zero."""
    return add_discrete_gaussian(np.zeros(size, dtype=np.int64), scale=scale)


def discrete_laplace(size: int, *, scale: float) -> npt.NDArray[np.int64]:
    """``size`` independent discrete Laplace draws centred on zero."""
    return add_discrete_laplace(np.zeros(size, dtype=np.int64), scale=scale)
