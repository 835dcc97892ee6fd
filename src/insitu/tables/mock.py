"""Mock tables made from a dataset's card alone, for analysts to prepare requests on.

A mock has the card's columns and dtypes and plausible values inside the
card's bounds and categories, but it is made without reading a single
private row, so no private row (or value pattern beyond what the public
card states) can leak into it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from insitu.crypto.hashing import canonical_json
from insitu.errors import InvalidInput
from insitu.tables.card import Card, Column, ColumnType
from insitu.tables.dtypes import pandas_dtype
from insitu.tables.shapes import category_weights, date_range_days, numeric_range, numeric_values
from insitu.tables.variates import IntArray, Variates

NULL_SHARE = 0.03
MAX_MOCK_ROWS = 10_000_000


def card_seed(card: Card) -> bytes:
    """The default mock seed: SHA-256 of the card's canonical JSON (public, reproducible)."""
    import hashlib

    return hashlib.sha256(b"insitu.mock\x00" + canonical_json(card.to_dict())).digest()


def make_mock(card: Card, *, rows: int = 1000, seed: bytes | None = None) -> pd.DataFrame:
    """A synthetic table with ``card``'s schema, made from the card alone.

    Parameters
    ----------
    card:
        The public card. Nothing else is read: the mock cannot contain a
        private row.
    rows:
        Number of rows.
    seed:
        Seed of the deterministic variate stream. By default it is derived from
        the card's hash, so the same card always gives the same mock. A fixed,
        public seed is fine here because mocks are public by design; they
        protect nothing and must never be used as noise.

    Returns
    -------
    pandas.DataFrame
        Columns in the card's order with :func:`insitu.tables.dtypes.pandas_dtypes`.
        Numbers lie within the card's bounds (money-like columns log-normal,
        counts skewed low, ages over the range), categories come from the
        declared list with unequal frequencies, nullable columns hold about
        3 % missing values, and the privacy-unit column holds ids with at
        most ``max_rows`` rows each.

    Raises
    ------
    InvalidInput
        ``rows`` is out of range, or the card's domain for the privacy unit
        has too few distinct ids for ``rows`` within ``max_rows``.
    """
    if not isinstance(card, Card):
        raise TypeError("card must be an insitu.tables.card.Card")
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise TypeError("rows must be an int")
    if not 0 <= rows <= MAX_MOCK_ROWS:
        raise InvalidInput(f"rows must be between 0 and {MAX_MOCK_ROWS}")
    if seed is not None and not isinstance(seed, bytes):
        raise TypeError("seed must be bytes or None")
    base = card_seed(card) if seed is None else seed
    unit = card.privacy_unit.column if card.privacy_unit is not None else None
    data: dict[str, pd.Series] = {}
    for col in card.columns:
        v = Variates.seeded(base, col.name)
        if col.name == unit:
            assert card.privacy_unit is not None
            data[col.name] = _unit_column(col, rows, card.privacy_unit.max_rows, v)
        else:
            data[col.name] = _column(col, rows, v)
    return pd.DataFrame(data, index=pd.RangeIndex(rows))


def _column(col: Column, n: int, v: Variates) -> pd.Series:
    missing = v.bernoulli(NULL_SHARE, n) if col.nullable else np.zeros(n, dtype=bool)
    values: object
    if col.type.numeric:
        values = numeric_values(col, n, v)
    elif col.type is ColumnType.CATEGORY:
        assert col.categories is not None
        picks = v.choice(category_weights(col, v), n)
        values = np.asarray(col.categories, dtype=object)[picks]
    elif col.type is ColumnType.BOOLEAN:
        values = v.bernoulli(0.35, n)
    elif col.type is ColumnType.DATE:
        lo, hi = date_range_days(col)
        values = (v.integers(lo, hi, n).astype("datetime64[D]")).astype("datetime64[us]")
    else:
        values = np.asarray([_token(col.name, int(x)) for x in v.integers(0, 16**10 - 1, n)])
    return _finish(col, pd.Series(values), missing)


def _finish(col: Column, series: pd.Series, missing: np.ndarray) -> pd.Series:
    dtype = pandas_dtype(col)
    if dtype == "int64":
        series = series.astype("int64")
    out = series.astype(dtype)
    if missing.any():
        out = out.mask(pd.Series(missing))
    return out.astype(dtype)


def _token(name: str, x: int) -> str:
    return f"{name[:12]}_{x:010x}"


def _unit_column(col: Column, n: int, max_rows: int, v: Variates) -> pd.Series:
    """Ids for the privacy unit: distinct units, each repeated 1..max_rows times."""
    counts = _rows_per_unit(n, max_rows, v)
    units = len(counts)
    if col.type is ColumnType.CATEGORY:
        assert col.categories is not None
        if units > len(col.categories):
            raise InvalidInput(
                f"privacy unit {col.name!r} has {len(col.categories)} categories, too few for "
                f"{n} mock rows at {max_rows} row(s) per unit"
            )
        ids: object = np.asarray(col.categories, dtype=object)[v.permutation(len(col.categories))][
            :units
        ]
    elif col.type.numeric:
        lo, hi = numeric_range(col)
        if col.lower is None and col.upper is None:
            lo, hi = 100_000.0, float(max(999_999, 100_000 + 10 * units))
        ilo, ihi = math.ceil(lo), math.floor(hi)
        offsets = _distinct(units, ihi - ilo + 1, col.name, v)
        ids = np.asarray([ilo + o for o in offsets], dtype=np.int64)
    elif col.type is ColumnType.STRING:
        space = max(10**8, 10 * units)
        width = len(str(space - 1))
        prefix = col.name[:1].upper() or "U"
        ids = np.asarray([f"{prefix}{o:0{width}d}" for o in _distinct(units, space, col.name, v)])
    else:
        raise InvalidInput(f"cannot make distinct mock ids for a {col.type.value} privacy unit")
    repeated = np.repeat(np.asarray(ids), counts) if units else np.asarray([], dtype=object)
    series = pd.Series(repeated)
    return _finish(col, series, np.zeros(n, dtype=bool))


def _rows_per_unit(n: int, max_rows: int, v: Variates) -> IntArray:
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if max_rows == 1:
        return np.ones(n, dtype=np.int64)
    draws = v.integers(1, max_rows, n)  # n units always suffice
    ends = np.cumsum(draws)
    units = int(np.searchsorted(ends, n)) + 1
    counts = draws[:units].copy()
    counts[-1] -= int(ends[units - 1]) - n
    return counts


def _distinct(k: int, space: int, name: str, v: Variates) -> list[int]:
    """``k`` distinct offsets in ``[0, space)``: an affine permutation ``a*i + b mod space``."""
    if k > space:
        raise InvalidInput(
            f"privacy unit {name!r} allows only {space} distinct ids, too few for the mock rows"
        )
    if space == 1:
        return [0] * k
    a = int(v.integers(1, min(space - 1, 2**52), 1)[0])
    while math.gcd(a, space) != 1:
        a += 1
    b = int(v.integers(0, min(space - 1, 2**52), 1)[0])
    return [(a * i + b) % space for i in range(k)]
