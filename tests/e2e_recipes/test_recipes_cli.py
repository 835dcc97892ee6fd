"""``insitu psi`` and ``insitu secure-stats`` from the command line, waiting for the result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tests.e2e_recipes.recipes_cluster import IDS, NAMES, SURVEY_CARD, RecipeCluster, survey_table

pytestmark = pytest.mark.e2e


def _cli(recipes: RecipeCluster, *args: str) -> subprocess.Popen[str]:
    node = recipes.nodes["office-a"]
    env = dict(os.environ, INSITU_URL=node.url, INSITU_TOKEN=node.owner_token)
    return subprocess.Popen(
        [sys.executable, "-m", "insitu.cli.main", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _approve_pending(recipes: RecipeCluster, names: tuple[str, ...]) -> str:
    """Approve the one new pending collaboration at every node in ``names``; its id."""
    end = time.monotonic() + 60
    with recipes.owner(names[-1]) as last:
        while time.monotonic() < end:
            pending = last.collaborations.list(status="pending")
            if pending:
                break
            time.sleep(0.2)
    (collab,) = pending
    recipes.approve_all(collab.id, names)
    return collab.id


def test_cli_psi_cardinality_waits_and_prints_json(recipes: RecipeCluster) -> None:
    proc = _cli(
        recipes, "psi", "--mode", "cardinality", "--receiver", "office-a:keys",
        "--sender", "office-b:keys", "--key", "id", "--wait", "--json", "--timeout", "120",
    )  # fmt: skip
    _approve_pending(recipes, ("office-a", "office-b"))
    stdout, stderr = proc.communicate(timeout=150)
    assert proc.returncode == 0, stderr
    out = json.loads(stdout)
    assert out["cardinality"] == len(set(IDS["office-a"]) & set(IDS["office-b"]))


def test_cli_secure_stats_from_a_yaml_file(recipes: RecipeCluster, tmp_path: Path) -> None:
    spec = {
        "inputs": [f"{n}:survey" for n in NAMES],
        "computing": ["office-a", "office-c"],
        "statistics": ["count", "mean:income", "ols:income~age"],
        "card": SURVEY_CARD,
        "max_rows": 10000,
        "share_timeout": 20,
    }
    path = tmp_path / "stats.yaml"
    path.write_text(yaml.safe_dump(spec))
    proc = _cli(recipes, "secure-stats", str(path), "--wait", "--json", "--timeout", "150")
    _approve_pending(recipes, NAMES)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    stats = json.loads(stdout)["statistics"]
    pooled = pd.concat([survey_table(n) for n in NAMES])
    assert stats["count"] == len(pooled)
    assert stats["mean_income"] == pytest.approx(pooled["income"].mean(), rel=1e-9)


def test_cli_refuses_a_bad_statistic(recipes: RecipeCluster) -> None:
    proc = _cli(recipes, "secure-stats", "--input", "office-a:survey", "--stat", "median")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "cannot read statistic 'median'" in stderr
