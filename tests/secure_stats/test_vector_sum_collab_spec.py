"""The ``secure_vector_sum`` collaboration: parameters, the column read as a vector, decoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from insitu.client.recipes import decode_vector
from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.vector_sum_computation import (
    encode_vector,
    read_vector,
    vector_sum_job,
)

KEYS = [SigningKey.generate().public_key.to_text() for _ in range(3)]


def spec(parameters: dict[str, Any], **extra: Any) -> CollaborationSpec:
    parties = [
        {"name": n, "url": f"http://{n}.example", "public_key": k, "roles": r, "datasets": d}
        for n, k, r, d in (
            ("a", KEYS[0], ["input", "computing", "result"], ["grid"]),
            ("b", KEYS[1], ["input", "computing"], ["grid"]),
            ("c", KEYS[2], ["input"], ["grid"]),
        )
    ]
    data = {
        "collab_id": "vsum-1",
        "computation": "secure_vector_sum",
        "parameters": parameters,
        "parties": parties,
        "privacy_costs": [{"party": n, "dataset": "grid", "exact": True} for n in "abc"],
        "result_parties": ["a"],
        "timeout_seconds": 600,
        **extra,
    }
    return CollaborationSpec.parse(data)


def test_every_party_derives_one_role_per_party_name() -> None:
    job = vector_sum_job(spec({"column": "v", "length": 10, "bound": 5, "quorum": 2}))
    assert job.input_parties == ("a", "b", "c")
    assert job.computing_parties == ("a:computing", "b:computing")
    assert job.result_party == "a:result"
    assert (job.length, job.bound, job.quorum, job.job_id) == (10, 5.0, 2, "vsum-1")


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"length": 10, "bound": 5}, "column"),
        ({"column": "v", "bound": 5}, "'length' and 'bound'"),
        ({"column": "v", "length": "ten", "bound": 5}, "'length' and 'bound'"),
        ({"column": "v", "length": 10, "bound": 0}, "positive"),
        ({"column": "v", "length": 10, "bound": 5, "colour": 1}, "unknown"),
        ({"column": "v", "length": 10, "bound": 5, "quorum": 4}, "quorum"),
        ({"column": "v", "length": 10, "bound": 1e15}, "headroom"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(parameters: dict[str, Any], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        vector_sum_job(spec(parameters))


def test_a_dp_cost_is_refused_because_the_sum_is_exact() -> None:
    costs = [{"party": n, "dataset": "grid", "rho": 0.5} for n in "abc"]
    with pytest.raises(InvalidInput, match="exact"):
        vector_sum_job(spec({"column": "v", "length": 3, "bound": 1}, privacy_costs=costs))


def test_the_column_is_read_in_row_order(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"v": [3, 1, 2], "s": ["x", "y", "z"], "m": [1.0, None, 2.0]}).to_parquet(path)
    assert read_vector(path, "v").tolist() == [3.0, 1.0, 2.0]
    with pytest.raises(InvalidInput, match="no column 'w'"):
        read_vector(path, "w")
    with pytest.raises(InvalidInput, match="not numeric"):
        read_vector(path, "s")
    with pytest.raises(InvalidInput, match="1 missing"):
        read_vector(path, "m")


def test_a_result_vector_round_trips_and_a_malformed_one_is_refused() -> None:
    values = np.array([0.5, -1.25, 1e-5])
    result = {"sum": encode_vector(values), "encoding": "float64-le", "length": 3}
    assert decode_vector(result).tolist() == values.tolist()
    with pytest.raises(InvalidInput, match="result says 4"):
        decode_vector({**result, "length": 4})
    with pytest.raises(InvalidInput, match="not a secure_vector_sum"):
        decode_vector({"total": 3})
    with pytest.raises(InvalidInput, match="blobs fetched"):
        decode_vector({**result, "sum": {"blob": "ab" * 32, "bytes": 24}})
    with pytest.raises(InvalidInput, match="whole number"):
        decode_vector({**result, "sum": b"12345"})
