"""Records held by several hospitals, for statistics across holders (reference scenario 3).

Each hospital keeps its own discharge records with the same card. The
national count, means, histograms, cross-tables and a regression should be
computed without pooling records; ``truth`` holds the pooled answers to
compare a secure computation against.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from insitu.examples.files import ExampleSet, finish, pick, prepare, seed_of, write_table
from insitu.examples.names import DIAGNOSES, REGIONS_A
from insitu.examples.register import ages
from insitu.tables.card import Card
from insitu.tables.variates import Variates

STAY_MAX = 365
COST_MAX = 1_000_000.0
_MEAN_STAY = {"circulatory": 6.0, "neoplasms": 8.0, "mental": 14.0, "pregnancy": 3.0, "injury": 5.0}


def hospital_card(name: str) -> Card:
    """Card shared by every hospital's discharge records."""
    return Card.from_mapping(
        {
            "name": name,
            "description": "Hospital discharges in one year, one row per stay (synthetic).",
            "privacy_unit": {"column": "patient_id", "max_rows": 5},
            "columns": [
                {"name": "patient_id", "type": "string"},
                {"name": "age", "type": "integer", "lower": 0, "upper": 110},
                {"name": "sex", "type": "category", "categories": ["F", "M"]},
                {"name": "region", "type": "category", "categories": list(REGIONS_A)},
                {"name": "diagnosis", "type": "category", "categories": list(DIAGNOSES)},
                {"name": "length_of_stay", "type": "integer", "lower": 0, "upper": STAY_MAX},
                {"name": "cost_eur", "type": "float", "lower": 0, "upper": COST_MAX},
                {"name": "readmitted", "type": "boolean"},
            ],
        }
    )


def _hospital(index: int, rows: int, v: Variates) -> pd.DataFrame:
    prefix = f"H{index + 1}"
    # Patients with 1..5 stays each (most have one).
    stays = np.minimum(1 + np.floor(-np.log1p(-v.uniform(rows)) * 0.5).astype(np.int64), 5)
    patients = np.repeat(np.arange(rows), stays)[:rows]
    weights = [
        w * (1.8 if (index == 0 and d == "neoplasms") else 1.0) for d, w in DIAGNOSES.items()
    ]
    diagnosis = pick(list(DIAGNOSES), weights, rows, v)
    # A patient's age, sex and region are the same on each of their stays.
    age = np.minimum(ages(rows, v, top=100) + 5 * index, 105)[patients]
    sex = pick(["F", "M"], [52.0, 48.0], rows, v)[patients]
    region = pick(list(REGIONS_A), list(REGIONS_A.values()), rows, v)[patients]
    mean_stay = np.array([_MEAN_STAY.get(d, 4.5) for d in diagnosis]) * (1 + age / 100.0)
    stay = np.minimum(np.floor(-np.log1p(-v.uniform(rows)) * mean_stay), STAY_MAX).astype(np.int64)
    cost = 1_800.0 + 650.0 * stay * np.exp(0.35 * v.normal(rows))
    return pd.DataFrame(
        {
            "patient_id": [f"{prefix}-{p:07d}" for p in patients],
            "age": age,
            "sex": sex,
            "region": region,
            "diagnosis": diagnosis,
            "length_of_stay": stay,
            "cost_eur": np.clip(np.round(cost, 2), 0.0, COST_MAX),
            "readmitted": v.bernoulli(np.where(stay > 7, 0.12, 0.08), rows),
        }
    )


def hospital_records(
    directory: str | Path,
    *,
    hospitals: int = 4,
    rows: int = 5_000,
    seed: bytes | str = b"insitu-example-hospitals",
) -> ExampleSet:
    """Write ``hospital_1.csv`` … ``hospital_<n>.csv`` with one shared card shape.

    Hospital sizes vary around ``rows`` (±40 %); case mixes differ (the
    first is a cancer centre, later ones see older patients). ``truth`` holds
    pooled rows, mean age, mean length of stay, readmission rate, counts by
    diagnosis and the least-squares line ``cost_eur ~ length_of_stay``.
    """
    if hospitals < 1 or rows < 1:
        raise ValueError("hospitals and rows must be at least 1")
    out = prepare(directory)
    v = Variates.seeded(seed_of(seed), "hospitals")
    sizes = np.maximum(1, np.round(rows * (0.6 + 0.8 * v.uniform(hospitals)))).astype(int)
    frames = [_hospital(i, int(n), v) for i, n in enumerate(sizes)]
    tables = [write_table(f, hospital_card(f"hospital_{i + 1}"), out) for i, f in enumerate(frames)]
    pooled = pd.concat(frames, ignore_index=True)
    slope, intercept = np.polyfit(pooled["length_of_stay"], pooled["cost_eur"], 1)
    truth = {
        "rows": len(pooled),
        "rows_per_hospital": [int(n) for n in sizes],
        "mean_age": float(pooled["age"].mean()),
        "mean_length_of_stay": float(pooled["length_of_stay"].mean()),
        "readmission_rate": float(pooled["readmitted"].mean()),
        "count_by_diagnosis": {
            str(k): int(n) for k, n in pooled["diagnosis"].value_counts().sort_index().items()
        },
        "cost_on_stay": {"slope": float(slope), "intercept": float(intercept)},
    }
    return finish(out, tables, truth)
