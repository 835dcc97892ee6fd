"""Secure vector sum as a collaboration of three real nodes: equal to the pooled sum."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.e2e_recipes.recipes_cluster import GRID_CELLS, NAMES, RecipeCluster, grid_table

import insitu
from insitu.errors import Forbidden, NotFound

pytestmark = pytest.mark.e2e


def _propose(recipes: RecipeCluster, inputs: list[tuple[str, str]], **kwargs: Any) -> str:
    with recipes.owner("office-a") as a:
        proposed = insitu.secure_vector_sum(
            a, inputs=inputs, column=kwargs.pop("column", "value"), length=GRID_CELLS,
            bound=100.0, computing=list(NAMES), share_timeout=20, **kwargs,
        )  # fmt: skip
    recipes.approve_all(proposed.id)
    return proposed.id


def _views(recipes: RecipeCluster, collab_id: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name in NAMES:
        with recipes.owner(name) as owner:
            out[name] = owner.collaborations.wait(collab_id, timeout=120).data
    return out


def test_vector_sum_over_three_nodes_equals_the_pooled_sum(recipes: RecipeCluster) -> None:
    cid = _propose(recipes, [(n, "grid") for n in NAMES])
    views = _views(recipes, cid)
    assert {n: v["state"] for n, v in views.items()} == dict.fromkeys(NAMES, "done"), views
    with recipes.owner("office-a") as a:
        out = a.collaborations.result(cid)
    total = insitu.decode_vector(out)
    expected = sum(grid_table(n)["value"].to_numpy() for n in NAMES)
    assert total.shape == (GRID_CELLS,)
    assert np.max(np.abs(total - expected)) <= out["max_abs_error"] == 3 * 2.0**-17
    assert out["contributors"] == sorted(NAMES) and out["left_out"] == []
    assert out["exact"] is True and set(out["learns"]) == {"input", "computing", "result"}
    # the sum is kept beside the result's JSON, referenced by its hash
    with recipes.owner("office-a") as a:
        ref = a.collaborations.result(cid, blobs=False)["sum"]
        assert ref == {"blob": hashlib.sha256(out["sum"]).hexdigest(), "bytes": 8 * GRID_CELLS}
        with pytest.raises(NotFound):
            a.collaborations._t.send("GET", f"/v1/collaborations/{cid}/result/blobs/{'0' * 64}")
    # the other parties end done without the output, and cannot fetch it
    assert views["office-b"]["result_available"] is False
    with recipes.owner("office-b") as b:
        with pytest.raises(Forbidden):
            b.collaborations.result(cid)
        with pytest.raises(Forbidden):
            b.collaborations._t.send("GET", f"/v1/collaborations/{cid}/result/blobs/{ref['blob']}")


def test_a_vector_of_the_wrong_length_is_left_out_under_a_quorum(recipes: RecipeCluster) -> None:
    inputs = [("office-a", "grid"), ("office-b", "grid"), ("office-c", "grid_short")]
    cid = _propose(recipes, inputs, quorum=2)
    views = _views(recipes, cid)
    assert all(v["state"] == "done" for v in views.values()), views
    with recipes.owner("office-a") as a:
        out = a.collaborations.result(cid)
    assert out["contributors"] == ["office-a", "office-b"] and out["left_out"] == ["office-c"]
    expected = grid_table("office-a")["value"].to_numpy() + grid_table("office-b")["value"]
    assert np.max(np.abs(insitu.decode_vector(out) - expected.to_numpy())) <= 2 * 2.0**-17


@pytest.mark.parametrize(
    ("inputs", "column", "says"),
    [
        ([("office-a", "grid"), ("office-b", "grid"), ("office-c", "grid_short")], "value", ""),
        ([(n, "grid") for n in NAMES], "nope", "no column 'nope'"),
    ],
    ids=["wrong-length", "unknown-column"],
)
def test_a_bad_input_without_a_quorum_fails_everywhere(
    recipes: RecipeCluster, inputs: list[tuple[str, str]], column: str, says: str
) -> None:
    cid = _propose(recipes, inputs, column=column)
    views = _views(recipes, cid)
    for name, view in views.items():
        assert view["state"] == "failed", (name, view)
        assert view["result_available"] is False
    assert any(says in (v.get("reason") or "") for v in views.values()), views


def test_the_cli_shows_the_reference_and_saves_the_vector(
    recipes: RecipeCluster, tmp_path: Path
) -> None:
    cid = _propose(recipes, [(n, "grid") for n in NAMES])
    _views(recipes, cid)
    node = recipes.nodes["office-a"]
    env = dict(os.environ, INSITU_URL=node.url, INSITU_TOKEN=node.owner_token)
    done = subprocess.run(
        [sys.executable, "-m", "insitu.cli.main", "collab", "result", cid, "--json",
         "--blobs-dir", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["sum"]["bytes"] == 8 * GRID_CELLS and shown["contributors"] == sorted(NAMES)
    saved = np.fromfile(tmp_path / "out" / "sum.bin", dtype="<f8")
    expected = sum(grid_table(n)["value"].to_numpy() for n in NAMES)
    assert np.max(np.abs(saved - expected)) <= shown["max_abs_error"]
