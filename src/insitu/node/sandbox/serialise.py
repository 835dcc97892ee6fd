"""Turn a custom function's return value into bytes: Parquet for frames, JSON for plain data."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd

from insitu.crypto.hashing import canonical_json
from insitu.errors import InvalidInput, PayloadTooLarge
from insitu.node.sandbox.outcome import OutputKind

_ALLOWED = "a DataFrame, a Series, a number, a string, a boolean, None, or lists and dicts of those"
_MAX_DEPTH = 64


def serialise_result(value: Any, *, max_bytes: int) -> tuple[OutputKind, bytes]:
    """Encode ``value`` as Parquet (``DataFrame``/``Series``) or canonical JSON.

    Only exact types are accepted (no subclasses, whose methods the custom
    code controls); numpy scalars become Python numbers. A Series becomes a
    one-column frame named after the Series (``value`` when unnamed).

    Raises
    ------
    InvalidInput
        The value is of another type, holds NaN or infinity outside a
        frame, a dict key is not a string, or a frame cannot be written as
        Parquet (for example non-string column names).
    PayloadTooLarge
        The encoded result is larger than ``max_bytes``.
    """
    if type(value) is pd.Series:
        name = "value" if value.name is None else str(value.name)
        value = value.to_frame(name=name)
    if type(value) is pd.DataFrame:
        buffer = io.BytesIO()
        try:
            value.to_parquet(buffer)
        except Exception as exc:  # pyarrow's errors, or the frame's own objects failing
            raise InvalidInput(f"the DataFrame cannot be written as Parquet: {exc}") from None
        kind, data = OutputKind.PARQUET, buffer.getvalue()
    else:
        kind, data = OutputKind.JSON, canonical_json(_plain(value, 0))
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the result is {len(data)} bytes, over the {max_bytes}-byte limit")
    return kind, data


def _plain(value: Any, depth: int) -> Any:
    """A copy of ``value`` built from exact JSON types only."""
    if depth > _MAX_DEPTH:
        raise InvalidInput(f"the result is nested more than {_MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        if not math.isfinite(value):
            raise InvalidInput("the result holds NaN or infinity, which JSON cannot carry")
        return value
    if isinstance(value, np.bool_ | np.integer | np.floating) and kind.__module__ == "numpy":
        return _plain(value.item(), depth + 1)
    if kind in (list, tuple):
        return [_plain(v, depth + 1) for v in value]
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise InvalidInput("dict keys in the result must be strings")
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    raise InvalidInput(f"cannot return a value of type {kind.__qualname__!r}: return {_ALLOWED}")
