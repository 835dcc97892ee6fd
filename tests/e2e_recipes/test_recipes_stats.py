"""Secure statistics as a collaboration of three real nodes: equal to the pooled computation."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.e2e_recipes.recipes_cluster import NAMES, SURVEY_CARD, RecipeCluster, survey_table

import insitu
from insitu.computations.secure_stats import Count, CrossTable, Histogram, Mean, Ols

pytestmark = pytest.mark.e2e

STATS = [
    Count(),
    Mean(column="income"),
    Histogram(column="region"),
    CrossTable(rows="region", cols="region", name="diag"),
    Ols(y="income", x=["age"]),
]


def _propose(recipes: RecipeCluster, inputs: list[tuple[str, str]], **kwargs: Any) -> str:
    with recipes.owner("office-a") as a:
        proposed = insitu.secure_stats(
            a, inputs=inputs, computing=["office-a", "office-b"], statistics=STATS,
            card=SURVEY_CARD, max_rows=10_000, share_timeout=20, **kwargs,
        )  # fmt: skip
    recipes.approve_all(proposed.id)
    return proposed.id


def _finished(recipes: RecipeCluster, collab_id: str) -> dict[str, Any]:
    with recipes.owner("office-a") as a:
        return a.collaborations.wait(collab_id, timeout=120).data


def _result(recipes: RecipeCluster, collab_id: str) -> dict[str, Any]:
    view = _finished(recipes, collab_id)
    assert view["state"] == "done", view.get("reason")
    with recipes.owner("office-a") as a:
        return a.collaborations.result(collab_id)


def _check_against_pooled(stats: dict[str, Any], pooled: pd.DataFrame) -> None:
    assert stats["count"] == len(pooled)
    assert stats["mean_income"] == pytest.approx(pooled["income"].mean(), rel=1e-9)
    assert stats["histogram_region"] == {
        r: int((pooled["region"] == r).sum()) for r in ("north", "south", "east")
    }
    slope, intercept = np.polyfit(pooled["age"], pooled["income"], 1)
    coef = stats["ols_income"]["coef"]
    assert coef["age"] == pytest.approx(slope, rel=1e-6)
    assert coef["const"] == pytest.approx(intercept, rel=1e-6)


def test_secure_stats_over_three_nodes_equals_pooled(recipes: RecipeCluster) -> None:
    cid = _propose(recipes, [(n, "survey") for n in NAMES])
    out = _result(recipes, cid)
    _check_against_pooled(out["statistics"], pd.concat([survey_table(n) for n in NAMES]))
    assert out["contributors"] == sorted(NAMES) and out["left_out"] == []
    assert out["exact"] is True and set(out["learns"]) == {"input", "computing", "result"}
    # non-result parties end done, without the output
    with recipes.owner("office-c") as c:
        assert c.collaborations.wait(cid, timeout=60).data["result_available"] is False


def test_dp_charges_every_input_dataset_exactly_once(recipes: RecipeCluster) -> None:
    cid = _propose(recipes, [(n, "survey") for n in NAMES], dp={"rho": 0.5})
    out = _result(recipes, cid)
    assert out["dp"] == {"rho": 0.5} and out["receipt"]["rho"] == 0.5
    assert abs(out["statistics"]["count"] - sum(survey_table(n).shape[0] for n in NAMES)) < 60
    for name in NAMES:
        with recipes.owner(name) as owner:
            spent = [e for e in owner.ledger("survey") if cid[:20] in str(e.get("analyst", ""))]
        assert len(spent) == 1, (name, spent)
        assert spent[0]["rho"] == pytest.approx(0.5)


def test_a_dropout_is_left_out_under_a_quorum(recipes: RecipeCluster) -> None:
    inputs = [("office-a", "survey"), ("office-b", "survey"), ("office-c", "survey_odd")]
    cid = _propose(recipes, inputs, quorum=2)
    out = _result(recipes, cid)
    assert out["left_out"] == ["office-c"] and out["contributors"] == ["office-a", "office-b"]
    _check_against_pooled(out["statistics"], pd.concat([survey_table(n) for n in NAMES[:2]]))


def test_a_dropout_without_a_quorum_fails_everywhere(recipes: RecipeCluster) -> None:
    inputs = [("office-a", "survey"), ("office-b", "survey"), ("office-c", "survey_odd")]
    cid = _propose(recipes, inputs)
    for name in NAMES:
        with recipes.owner(name) as owner:
            view = owner.collaborations.wait(cid, timeout=120)
        assert view.state == "failed", (name, view.data)
        assert view.data["result_available"] is False


@pytest.mark.slow
def test_an_input_node_down_before_sharing_is_left_out_under_a_quorum(
    recipes: RecipeCluster,
) -> None:
    """office-c approves, then its node dies before the job starts; the others go on."""
    with recipes.owner("office-a") as a:
        proposed = insitu.secure_stats(
            a, inputs=[(n, "survey") for n in NAMES], computing=["office-a", "office-b"],
            statistics=STATS, card=SURVEY_CARD, max_rows=10_000, share_timeout=5, quorum=2,
        )  # fmt: skip
    recipes.approve_all(proposed.id, ("office-c", "office-b"))
    node_c = recipes.nodes["office-c"]
    with recipes.owner("office-a") as a:
        while not all(
            a.collaborations.get(proposed.id).parties[n] for n in ("office-b", "office-c")
        ):
            time.sleep(0.1)
    node_c.kill()
    try:
        recipes.approve_all(proposed.id, ("office-a",))
        out = _result(recipes, proposed.id)
    finally:
        node_c.start()
    assert out["left_out"] == ["office-c"] and out["contributors"] == ["office-a", "office-b"]
    _check_against_pooled(out["statistics"], pd.concat([survey_table(n) for n in NAMES[:2]]))
