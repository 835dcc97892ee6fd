"""A statistics office's person register (reference scenario 4): one row per resident."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from insitu.examples.files import ExampleSet, finish, pick, prepare, seed_of, write_table
from insitu.examples.names import REGIONS_A
from insitu.tables.card import Card
from insitu.tables.variates import FloatArray, IntArray, Variates

EMPLOYMENT = ("employed", "unemployed", "inactive", "student", "retired")
INCOME_MAX = 500_000.0

# Median annual income (EUR) and log-sd by employment status.
_INCOME = {"employed": (38_000, 0.55), "unemployed": (12_000, 0.4), "inactive": (9_000, 0.8),
           "student": (6_000, 0.7), "retired": (24_000, 0.45)}  # fmt: skip


def register_card(name: str = "persons") -> Card:
    """The public card of the person register."""
    return Card.from_mapping(
        {
            "name": name,
            "description": "Resident persons on 1 January, one row per person (synthetic).",
            "privacy_unit": {"column": "person_id", "max_rows": 1},
            "columns": [
                {"name": "person_id", "type": "integer", "description": "register number"},
                {"name": "age", "type": "integer", "lower": 0, "upper": 110},
                {"name": "sex", "type": "category", "categories": ["F", "M"]},
                {"name": "region", "type": "category", "categories": list(REGIONS_A)},
                {
                    "name": "income",
                    "type": "float",
                    "lower": 0,
                    "upper": INCOME_MAX,
                    "nullable": True,
                    "description": "gross annual income in EUR; empty when not reported",
                },
                {"name": "employment", "type": "category", "categories": list(EMPLOYMENT)},
                {"name": "household_size", "type": "integer", "lower": 1, "upper": 12},
            ],
        }
    )


def distinct_ids(n: int, low: int, space: int, v: Variates) -> IntArray:
    """``n`` distinct integers in ``[low, low + space)`` in scrambled order (affine permutation)."""
    a = int(v.integers(space // 3, space - 1, 1)[0])
    while np.gcd(a, space) != 1:
        a += 1
    b = int(v.integers(0, space - 1, 1)[0])
    i = np.arange(n, dtype=np.int64)
    return (low + (a * i + b) % space).astype(np.int64)


def ages(n: int, v: Variates, *, top: int = 100) -> IntArray:
    """Ages 0..top thinning out towards old age, like a population pyramid."""
    a = 0.7
    u = v.uniform(n)
    x = (1.0 - np.sqrt(1.0 - 2.0 * a * (1.0 - a / 2.0) * u)) / a
    return np.minimum(np.floor(x * (top + 1)), top).astype(np.int64)


def employment_for(age: IntArray, v: Variates) -> np.ndarray:
    """Employment status that fits each age."""
    u = v.uniform(age.size)
    youth = [(0.55, "student"), (0.62, "unemployed"), (0.68, "inactive"), (1.01, "employed")]
    adult = [(0.04, "student"), (0.09, "unemployed"), (0.24, "inactive"), (1.01, "employed")]
    old = [(0.95, "retired"), (1.01, "employed")]
    out = np.full(age.size, "student", dtype=object)
    for mask, bands in (((age >= 16) & (age < 25), youth), ((age >= 25) & (age < 67), adult),
                        (age >= 67, old)):  # fmt: skip
        chosen = np.full(age.size, bands[-1][1], dtype=object)
        for upper, label in reversed(bands):
            chosen[u < upper] = label
        out[mask] = chosen[mask]
    return out


def incomes(status: np.ndarray, age: IntArray, v: Variates) -> FloatArray:
    """Log-normal incomes by status, zero for children, clipped to the card's bounds."""
    z = v.normal(status.size)
    median = np.array([_INCOME[s][0] for s in status], dtype=np.float64)
    sigma = np.array([_INCOME[s][1] for s in status], dtype=np.float64)
    x = median * np.exp(sigma * z)
    x[age < 16] = 0.0
    return np.asarray(np.clip(np.round(x, 2), 0.0, INCOME_MAX), dtype=np.float64)


def person_register(
    directory: str | Path, *, rows: int = 20_000, seed: bytes | str = b"insitu-example-register"
) -> ExampleSet:
    """Write a synthetic person register (``persons.csv``) and its card.

    Columns: person_id (distinct 9-digit ids), age 0–100, sex, region (12
    provinces, weighted by population), income (log-normal by employment
    status, 1 % not reported), employment (consistent with age) and
    household_size 1–12. Deterministic for a given ``seed``; takes well
    under a second for the default size.
    """
    out = prepare(directory)
    base = seed_of(seed)
    v = Variates.seeded(base, "register")
    age = ages(rows, v)
    status = employment_for(age, v)
    income: pd.Series = pd.Series(incomes(status, age, v))
    income[v.bernoulli(0.01, rows)] = np.nan
    size = 1 + np.floor(-np.log1p(-v.uniform(rows)) * 1.4).astype(np.int64) + (age < 18)
    frame = pd.DataFrame(
        {
            "person_id": distinct_ids(rows, 100_000_000, 900_000_000, v),
            "age": age,
            "sex": pick(["F", "M"], [50.5, 49.5], rows, v),
            "region": pick(list(REGIONS_A), list(REGIONS_A.values()), rows, v),
            "income": income,
            "employment": status,
            "household_size": np.clip(size, 1, 12),
        }
    )
    card = register_card()
    table = write_table(frame, card, out)
    truth = {
        "rows": rows,
        "mean_age": float(frame["age"].mean()),
        "employed": int((frame["employment"] == "employed").sum()),
        "income_sum": float(frame["income"].sum()),
    }
    return finish(out, [table], truth)
