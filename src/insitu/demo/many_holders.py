"""Demo chapter (scenario 3): national statistics over three holders, beside the pooled figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import insitu
from insitu.computations.secure_stats import Count, CrossTable, Histogram, Mean, Ols
from insitu.demo.cluster import DemoNode
from insitu.demo.population_overlap import (
    approve_everywhere,
    learned,
    outcome,
    owner_of,
    register,
)
from insitu.demo.story import chapter, says, sees
from insitu.examples.hospitals import hospital_records

STATISTICS = [
    Count(name="records"),
    Mean(column="length_of_stay", name="mean_stay"),
    Histogram(column="diagnosis", name="by_diagnosis"),
    CrossTable(rows="diagnosis", cols="sex", name="diagnosis_by_sex"),
    Ols(y="cost_eur", x=["length_of_stay"], name="cost_on_stay"),
]


def _fmt(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4f}"


def _beside(secure: dict[str, Any], pooled: pd.DataFrame) -> pd.DataFrame:
    """Headline figures and the largest histogram cells: the secure computation and the pooled."""
    slope, intercept = np.polyfit(pooled["length_of_stay"], pooled["cost_eur"], 1)
    coef = secure["cost_on_stay"]["coef"]
    rows: list[tuple[str, Any, Any]] = [
        ("records", secure["records"], len(pooled)),
        ("mean length of stay", secure["mean_stay"], float(pooled["length_of_stay"].mean())),
        ("OLS cost ~ stay: slope", coef["length_of_stay"], float(slope)),
        ("OLS cost ~ stay: intercept", coef["const"], float(intercept)),
    ]
    counts = pooled["diagnosis"].value_counts()
    for diagnosis, n in sorted(secure["by_diagnosis"].items(), key=lambda kv: -kv[1])[:5]:
        rows.append((f"stays with {diagnosis}", n, int(counts.get(diagnosis, 0))))
    return pd.DataFrame(
        [(name, _fmt(a), _fmt(b)) for name, a, b in rows],
        columns=["figure", "secure (3 holders)", "pooled (never done)"],
    )


def _cells_equal(secure: dict[str, Any], pooled: pd.DataFrame) -> str:
    """How many cross-table cells match the pooled cross-table."""
    cross = pd.crosstab(pooled["diagnosis"], pooled["sex"])
    cells = [
        (n, int(cross.loc[d, s]) if d in cross.index and s in cross.columns else 0)
        for d, by_sex in secure["diagnosis_by_sex"].items()
        for s, n in by_sex.items()
    ]
    same = sum(a == b for a, b in cells)
    return f"cross-table diagnosis × sex: {same} of {len(cells)} cells equal the pooled counts"


def run(nodes: list[DemoNode], workdir: Path) -> None:
    chapter(
        "Statistics across many holders (secure multi-party statistics)",
        "Three holders secret-share their sums with two computing parties; "
        "only the national figures reach the result party.",
    )
    example = hospital_records(workdir / "hospitals", hospitals=len(nodes), rows=1_500)
    register(list(zip(nodes, example.tables, strict=True)), "discharge records")
    result_node = nodes[0]
    with owner_of(result_node) as owner:
        proposed = insitu.secure_stats(
            owner,
            inputs=[(n.name, t.name) for n, t in zip(nodes, example.tables, strict=True)],
            computing=[nodes[0].name, nodes[1].name],
            statistics=STATISTICS,
            max_rows=50_000,
        )
    says(result_node.name, f"proposed {proposed.id}: count, mean, histogram, cross-table, OLS")
    approve_everywhere(nodes, proposed.id, "exact national figures")
    result = outcome(result_node, proposed.id, "statistics across holders")
    pooled = pd.concat([pd.read_csv(t.csv) for t in example.tables], ignore_index=True)
    sees(result_node.name, _beside(result["statistics"], pooled), title="secure vs pooled")
    says(result_node.name, _cells_equal(result["statistics"], pooled))
    says(
        result_node.name,
        f"receipt: contributors {result['contributors']}, left out {result['left_out']}",
    )
    learned(result, suffix=" parties")
