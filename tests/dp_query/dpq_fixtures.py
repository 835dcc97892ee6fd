"""Shared card and data for the DP query tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from insitu.tables.card import Card

CARD = Card.from_mapping(
    {
        "name": "persons",
        "columns": [
            {"name": "person_id", "type": "string"},
            {"name": "region", "type": "category", "categories": ["north", "south", "east"]},
            {"name": "sex", "type": "category", "categories": ["f", "m"]},
            {"name": "employed", "type": "boolean"},
            {"name": "age", "type": "integer", "lower": 0, "upper": 100},
            {"name": "income", "type": "float", "lower": 0, "upper": 1000, "nullable": True},
            {"name": "score", "type": "float"},
            {"name": "city", "type": "string"},
            {"name": "born", "type": "date"},
        ],
        "privacy_unit": {"column": "person_id", "max_rows": 2},
    }
)


def frame() -> pd.DataFrame:
    """90 people and an extra row in an undeclared region; p0 has 10 rows (2 are kept)."""
    rows = []
    regions, sexes, cities = ["north", "south", "east"], ["f", "m"], ["oslo", "rome", "lima"]
    for i in range(90):
        rows.append(
            {
                "person_id": f"p{i}",
                "region": regions[i % 3],
                "sex": sexes[i % 2],
                "employed": i % 4 != 0,
                "age": 20 + i % 50,
                "income": float(100 + 7 * i) if i % 10 else None,
                "score": float(i),
                "city": cities[i % 3] if i < 60 else f"c{i}",
                "born": pd.Timestamp("1990-01-01"),
            }
        )
    # p0 has 10 identical rows with values far outside the bounds: 2 are kept, clamped.
    rows[0] = {**rows[0], "age": 500, "income": 1e9}
    rows.extend(dict(rows[0]) for _ in range(9))
    rows.append({**rows[1], "person_id": "q1", "region": "west", "age": -40})  # undeclared region
    return pd.DataFrame(rows)


def write(tmp: Path) -> Path:
    """Write the frame to ``tmp/persons.parquet``."""
    path = tmp / "persons.parquet"
    frame().to_parquet(path, index=False)
    return path
