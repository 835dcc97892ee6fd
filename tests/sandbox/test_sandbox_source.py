"""Custom code shape checks and result serialisation (in-process, no child)."""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from insitu.errors import InvalidInput, PayloadTooLarge
from insitu.node.sandbox import FunctionInfo, OutputKind, check_source
from insitu.node.sandbox.serialise import serialise_result


def test_one_function_is_described() -> None:
    source = '''"""Module docstring."""
def mean_age(people, *, visits):
    """Mean age per city."""
    import pandas as pd
    return people.groupby("city")["age"].mean()
'''
    assert check_source(source) == FunctionInfo(
        name="mean_age", parameters=("people", "visits"), docstring="Mean age per city."
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(:\n    pass\n", "syntax error on line 1"),
        ("import os\ndef f(x):\n    return 1\n", "put imports inside"),
        ("def f(x):\n    return 1\ndef g(x):\n    return 2\n", "found 2"),
        ("x = 1\n", "assign"),
        ("", "found 0"),
        ("def f(*tables):\n    return 1\n", "plain names"),
        ("def f(x=1):\n    return 1\n", "plain names"),
        ("def f(x, **kw):\n    return 1\n", "plain names"),
        ("@staticmethod\ndef f(x):\n    return 1\n", "decorators"),
        ("async def f(x):\n    return 1\n", "asyncfunctiondef"),
        ("class F:\n    pass\n", "classdef"),
        ("def f(x):\n    return 1\nf(1)\n", "expr"),
        ("def f(x):\n    return '\0'\n\0", "null bytes"),
    ],
)
def test_anything_but_one_plain_function_is_refused(source: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_source(source)


def test_source_must_be_text() -> None:
    with pytest.raises(TypeError):
        check_source(b"def f(x): pass")  # type: ignore[arg-type]


def test_frame_becomes_parquet() -> None:
    frame = pd.DataFrame({"city": ["a", "b"], "n": [1, 2]})
    kind, data = serialise_result(frame, max_bytes=1 << 20)
    assert kind is OutputKind.PARQUET
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(data)), frame)


def test_series_becomes_one_column_frame() -> None:
    kind, data = serialise_result(pd.Series([1.5, 2.5]), max_bytes=1 << 20)
    assert kind is OutputKind.PARQUET
    assert list(pd.read_parquet(io.BytesIO(data)).columns) == ["value"]
    kind, data = serialise_result(pd.Series([1], name="age"), max_bytes=1 << 20)
    assert list(pd.read_parquet(io.BytesIO(data)).columns) == ["age"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, 3),
        (2.5, 2.5),
        (np.float64(0.5), 0.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        ("text", "text"),
        (None, None),
        ({"a": [1, (2, 3)], "b": {"c": None}}, {"a": [1, [2, 3]], "b": {"c": None}}),
    ],
)
def test_plain_values_become_json(value: Any, expected: Any) -> None:
    kind, data = serialise_result(value, max_bytes=1 << 20)
    assert kind is OutputKind.JSON
    assert json.loads(data) == expected


class MyDict(dict[str, Any]):
    pass


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1: "x"},
        MyDict(a=1),
        OrderedDict(a=1),
        float("nan"),
        [float("inf")],
        {1, 2},
        b"bytes",
        np.array([1, 2]),
        pd.DataFrame({"a": [object()]}),  # Parquet cannot hold arbitrary objects
    ],
)
def test_other_values_are_refused_clearly(value: Any) -> None:
    with pytest.raises(InvalidInput):
        serialise_result(value, max_bytes=1 << 20)


def test_deep_nesting_is_refused() -> None:
    value: Any = 1
    for _ in range(100):
        value = [value]
    with pytest.raises(InvalidInput, match="nested"):
        serialise_result(value, max_bytes=1 << 20)


def test_result_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        serialise_result("x" * 2000, max_bytes=1000)
