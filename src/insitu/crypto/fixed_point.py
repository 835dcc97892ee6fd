"""Fixed-point encoding of real vectors into Z_2^64, with overflow detection.

A real ``x`` is encoded as the integer ``round(x · 2^f)`` in two's complement,
i.e. an element of Z_2^64 (``f`` = fractional bits). Sums of encodings are
encodings of sums as long as the true sum stays inside the signed range; this
module never lets that happen silently:

* at **encode** time every value must respect a declared absolute ``bound``
  and ``bound · 2^f`` must leave headroom below 2^62 (see :func:`frac_bits_for`);
* at **decode** time the signed value must lie inside the declared range of
  the aggregate (per-element bound × number of contributions); a value outside
  means the ring wrapped or a contribution was malformed, and decoding raises
  :class:`~insitu.errors.InvalidInput` instead of returning a wrong number.

Precision: encoding rounds to the nearest multiple of 2^-f, so one encoded
value is off by at most 2^-(f+1) (plus float64 rounding, |x|·2^-53); a sum of
``k`` encodings is off by at most ``k · 2^-(f+1)``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from insitu.errors import InvalidInput

HEADROOM_BITS = 62
"""Encoded magnitudes must stay below 2^62 (one bit of margin under the sign bit)."""

MAX_FRAC_BITS = 40


def frac_bits_for(bound: float, *, max_frac_bits: int) -> int:
    """Largest ``f ≤ max_frac_bits`` with ``bound · 2^f < 2^62``.

    Parameters
    ----------
    bound:
        Largest absolute value the encoded quantity (e.g. an aggregate) may take.
    max_frac_bits:
        The precision asked for.

    Raises
    ------
    InvalidInput
        If even ``f = 0`` (integers) cannot hold ``bound``.
    """
    _check_frac(max_frac_bits)
    bound = _check_bound(bound)
    if bound == 0.0:
        return max_frac_bits
    room = HEADROOM_BITS - math.floor(math.log2(bound)) - 1
    f = min(max_frac_bits, room)
    if f < 0:
        raise InvalidInput(
            f"bound {bound:g} does not fit in Z_2^64 with headroom; lower the declared bounds "
            "or the number of contributions"
        )
    return f


def encode(
    values: npt.ArrayLike, *, frac_bits: npt.ArrayLike, bound: npt.ArrayLike
) -> npt.NDArray[np.uint64]:
    """Encode reals as ring elements ``round(x · 2^f) mod 2^64``.

    Parameters
    ----------
    values:
        Finite reals.
    frac_bits:
        Fractional bits, a scalar or one per value.
    bound:
        Declared absolute bound, a scalar or one per value; ``|x| ≤ bound`` is checked.

    Raises
    ------
    InvalidInput
        On a non-finite value, a value above its bound, or a bound without headroom.
    """
    x = np.asarray(values, dtype=np.float64)
    f, b = _params(x.shape, frac_bits, bound)
    if not np.all(np.isfinite(x)):
        raise InvalidInput("cannot encode NaN or infinite values")
    over = np.abs(x) > b
    if np.any(over):
        raise InvalidInput(f"{int(over.sum())} value(s) exceed their declared bound")
    scaled = x * np.ldexp(1.0, f)
    np.rint(scaled, out=scaled)
    return scaled.astype(np.int64).view(np.uint64)


def decode(
    words: npt.NDArray[np.uint64],
    *,
    frac_bits: npt.ArrayLike,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    slack: npt.ArrayLike = 0,
) -> npt.NDArray[np.float64]:
    """Decode ring elements to reals, refusing any value outside ``[lower, upper]``.

    Parameters
    ----------
    words:
        ``uint64`` ring elements (e.g. a reconstructed aggregate).
    frac_bits:
        Fractional bits used at encoding, scalar or per element.
    lower, upper:
        Declared range of the decoded reals (e.g. per-row bounds × row count).
    slack:
        Extra tolerance in grid units (rounding of each contribution, DP noise).

    Raises
    ------
    InvalidInput
        If an element decodes outside its range: the aggregate overflowed the
        ring or a contribution was out of bounds. The message names no values.
    """
    if not isinstance(words, np.ndarray) or words.dtype != np.uint64:
        raise TypeError("words must be a uint64 numpy array")
    signed = words.view(np.int64)
    f, _ = _params(signed.shape, frac_bits, 0.0)
    scale = np.ldexp(1.0, f)
    lo = np.asarray(lower, dtype=np.float64) * scale - np.asarray(slack, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64) * scale + np.asarray(slack, dtype=np.float64)
    if lo.ndim == 0 and hi.ndim == 0:
        bad_count = int(signed.size > 0 and (signed.min() < lo or signed.max() > hi))
    else:
        as_float = signed.astype(np.float64)
        bad_count = int(np.count_nonzero((as_float < lo) | (as_float > hi)))
    if bad_count:
        raise InvalidInput(
            "aggregate element(s) fall outside their declared range: "
            "the sum overflowed or a contribution broke its bounds"
        )
    return signed / scale


def max_error(frac_bits: int, contributions: int) -> float:
    """Worst-case rounding error of a sum of ``contributions`` encodings at ``frac_bits``."""
    _check_frac(frac_bits)
    return contributions * math.ldexp(1.0, -(frac_bits + 1))


def _params(
    shape: tuple[int, ...], frac_bits: npt.ArrayLike, bound: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Validated fractional bits and bounds, kept scalar (0-d) when given as scalars."""
    f = np.asarray(frac_bits)
    if not np.issubdtype(f.dtype, np.integer):
        raise TypeError("frac_bits must be integers")
    b = np.asarray(bound, dtype=np.float64)
    for arr in (f, b):
        if arr.ndim and arr.shape != shape:
            raise InvalidInput("frac_bits and bounds must be scalars or match the values")
    if f.size and (f.min() < 0 or f.max() > MAX_FRAC_BITS):
        raise InvalidInput(f"frac_bits must be in [0, {MAX_FRAC_BITS}]")
    if b.size and (not np.all(np.isfinite(b)) or b.min() < 0):
        raise InvalidInput("bounds must be finite and non-negative")
    if b.size and np.any(np.ldexp(b, f.astype(np.int64)) >= 2.0**HEADROOM_BITS):
        raise InvalidInput("a bound leaves no headroom in Z_2^64 at this precision")
    return f.astype(np.int64), b


def _check_frac(frac_bits: int) -> None:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, int):
        raise TypeError("frac_bits must be an int")
    if not 0 <= frac_bits <= MAX_FRAC_BITS:
        raise InvalidInput(f"frac_bits must be in [0, {MAX_FRAC_BITS}]")


def _check_bound(bound: float) -> float:
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise TypeError("bound must be a number")
    b = float(bound)
    if not math.isfinite(b) or b < 0:
        raise InvalidInput("bound must be finite and non-negative")
    return b


__all__ = ["HEADROOM_BITS", "MAX_FRAC_BITS", "decode", "encode", "frac_bits_for", "max_error"]
