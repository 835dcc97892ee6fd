"""Property: for any bounded data split any way, secure results equal the pooled ones."""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insitu.computations.secure_stats import (
    Count,
    CrossTable,
    Histogram,
    SecureStatsSpec,
    Sum,
    Variance,
    simulate,
)
from insitu.tables.card import Card


@st.composite
def jobs(draw):
    lo = draw(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
    width = draw(st.floats(min_value=1e-3, max_value=1e6))
    hi = lo + width
    holders = draw(st.integers(min_value=1, max_value=4))
    sizes = draw(
        st.lists(st.integers(min_value=2, max_value=40), min_size=holders, max_size=holders)
    )
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    computing = draw(st.sampled_from([2, 3]))
    return lo, hi, sizes, seed, computing


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs())
def test_secure_equals_pooled(job) -> None:
    lo, hi, sizes, seed, computing = job
    rng = np.random.default_rng(seed)
    card = Card.from_mapping(
        {
            "name": "t",
            "columns": [
                {"name": "x", "type": "float", "lower": lo, "upper": hi},
                {"name": "g", "type": "category", "categories": ["a", "b", "c"]},
                {"name": "k", "type": "integer", "lower": 0, "upper": 4},
            ],
        }
    )
    tables = {
        f"in{i}": pd.DataFrame(
            {
                "x": rng.uniform(lo, hi, n),
                "g": rng.choice(["a", "b", "c"], n),
                "k": rng.integers(0, 5, n),
            }
        )
        for i, n in enumerate(sizes)
    }
    spec = SecureStatsSpec(
        job_id="prop",
        card=card,
        input_parties=list(tables),
        computing_parties=[f"cp{j}" for j in range(computing)],
        result_party="out",
        max_rows=1000,
        statistics=[
            Count(),
            Sum(column="x"),
            Variance(column="x"),
            Histogram(column="k"),
            CrossTable(rows="g", cols="k"),
        ],
    )
    res = simulate(spec, tables)
    pooled = pd.concat(tables.values())
    v = res.values
    assert v["count"] == len(pooled)
    assert v["histogram_k"] == {str(k): int((pooled["k"] == k).sum()) for k in range(5)}
    for g in "abc":
        for k in range(5):
            assert v["crosstab_g"][g][str(k)] == int(
                ((pooled["g"] == g) & (pooled["k"] == k)).sum()
            )
    err = res.receipt.precision["moments:x:None"]["max_sum_error"]
    scale = max(abs(lo), abs(hi)) * len(pooled)
    assert abs(v["sum_x"] - pooled["x"].sum()) <= err + 1e-12 * scale
    # rounding of Σd and Σd² (d = x − centre, |d| ≤ half) propagated through the formula
    half, n = (hi - lo) / 2, len(pooled)
    var_err = (err + 2 * half * err + err**2) / (n - 1)
    assert abs(v["variance_x"] - pooled["x"].var()) <= var_err + 1e-9 * (half**2 + 1)
