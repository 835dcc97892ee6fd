"""The psi and secure_stats adapters in one process: roles, release marks, spec checks."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.e2e_recipes.recipes_cluster import IDS, SURVEY_CARD, keys_table, survey_table

from insitu.cli.collab_cmds import parse_stat
from insitu.computations.channel import InMemoryHub
from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation import psi_computation
from insitu.node.federation.computations import COMPUTATIONS, CollabContext
from insitu.node.federation.psi_computation import dp_cost
from insitu.node.federation.stats_computation import stats_spec

NODES = ("office-a", "office-b", "office-c")
KEYS = {n: SigningKey.generate().public_key.to_text() for n in NODES}


class Files:
    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths

    def path(self, name: str) -> Path:
        return self.paths[name]


def _spec(
    computation: str,
    roles: dict[str, list[str]],
    params: dict[str, Any],
    cost: dict[str, Any] | None = None,
    results: list[str] | None = None,
) -> CollaborationSpec:
    inputs = [n for n, r in roles.items() if "input" in r]
    return CollaborationSpec.parse({
        "collab_id": f"{computation}-test", "computation": computation, "parameters": params,
        "parties": [
            {"name": n, "url": f"https://{n}.example", "public_key": KEYS[n], "roles": r,
             "datasets": ["data"] if "input" in r else []}
            for n, r in roles.items()
        ],
        "privacy_costs": [
            {"party": n, "dataset": "data", **(cost or {"exact": True})} for n in inputs
        ],
        "result_parties": results or [n for n, r in roles.items() if "result" in r],
        "timeout_seconds": 60,
    })  # fmt: skip


def _run_all(
    spec: CollaborationSpec, files: dict[str, Path]
) -> tuple[dict[str, Any], Counter[str]]:
    names = [p.name for p in spec.parties]
    hub = InMemoryHub(names)
    outputs: dict[str, Any] = {}
    releases: Counter[str] = Counter()

    def play(name: str) -> None:
        ctx = CollabContext(
            spec=spec, me=name, channel=hub.channel(name),
            datasets=Files({"data": files[name]} if name in files else {}),
            on_release=lambda: releases.update([name]), timeout=30,
        )  # fmt: skip
        try:
            outputs[name] = COMPUTATIONS[spec.computation](ctx)
        except Exception as exc:
            outputs[name] = exc

    threads = [threading.Thread(target=play, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outputs, releases


def _parquet(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    out = {}
    for name, frame in frames.items():
        out[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(out[name])
    return out


def test_stats_roles_of_one_node_share_it_and_each_input_releases_once(tmp_path: Path) -> None:
    roles = {
        "office-a": ["input", "computing", "result"],
        "office-b": ["input", "computing"],
        "office-c": ["input"],
    }
    wanted = [{"kind": "count"}, {"kind": "mean", "column": "age"}]
    params = {"card": SURVEY_CARD, "statistics": wanted, "max_rows": 1000, "timeout": 10}
    files = _parquet(tmp_path, {n: survey_table(n) for n in NODES})
    outputs, releases = _run_all(_spec("secure_stats", roles, params), files)
    pooled = pd.concat([survey_table(n) for n in NODES])
    assert outputs["office-b"] is None and outputs["office-c"] is None
    stats = outputs["office-a"]["statistics"]
    assert stats["count"] == len(pooled)
    assert stats["mean_age"] == pytest.approx(pooled["age"].mean())
    assert releases == Counter(NODES)


def test_psi_cardinality_released_to_both_with_one_release_mark_each(tmp_path: Path) -> None:
    roles = {"office-a": ["input", "result"], "office-b": ["input", "result"]}
    params = {"mode": "cardinality", "receiver": "office-a", "sender": "office-b",
              "key": {"columns": ["id"]}}  # fmt: skip
    files = _parquet(tmp_path, {n: keys_table(n) for n in roles})
    outputs, releases = _run_all(_spec("psi", roles, params), files)
    shared = len(set(IDS["office-a"]) & set(IDS["office-b"]))
    assert outputs["office-a"]["cardinality"] == outputs["office-b"]["cardinality"] == shared
    assert "as a result party" in outputs["office-b"]["learns"]["office-b"]
    assert releases == Counter(["office-a", "office-b"])


def test_dp_cost_must_be_one_for_all_inputs() -> None:
    roles = {"office-a": ["input", "result"], "office-b": ["input"]}
    params = {"mode": "cardinality", "receiver": "office-a", "sender": "office-b",
              "key": {"columns": ["id"]}}  # fmt: skip
    assert dp_cost(_spec("psi", roles, params, {"rho": 0.2})) == {"rho": 0.2}
    assert dp_cost(_spec("psi", roles, params)) is None
    with pytest.raises(InvalidInput, match="pure"):
        dp_cost(_spec("psi", roles, params, {"epsilon": 1.0, "delta": 1e-6}))


@pytest.mark.parametrize(
    ("mode", "cost", "results", "message"),
    [
        ("intersection", {"epsilon": 1.0}, None, "row-level"),
        ("intersection", None, ["office-b"], "results may go to"),
    ],
)
def test_psi_refuses_what_it_cannot_release(
    tmp_path: Path, mode: str, cost: dict[str, Any] | None, results: list[str] | None, message: str
) -> None:
    roles = {
        "office-a": ["input"] + ([] if results else ["result"]),
        "office-b": ["input", "result"] if results else ["input"],
    }
    params = {
        "mode": mode,
        "receiver": "office-a",
        "sender": "office-b",
        "key": {"columns": ["id"]},
    }
    files = _parquet(tmp_path, {n: keys_table(n) for n in roles})
    outputs, releases = _run_all(_spec("psi", roles, params, cost, results), files)
    for out in outputs.values():
        assert isinstance(out, InvalidInput) and message in str(out)
    assert not releases


def test_cli_statistic_strings() -> None:
    assert parse_stat("count") == {"kind": "count"}
    assert parse_stat("crosstab:region,sex") == {
        "kind": "crosstab",
        "rows": "region",
        "cols": "sex",
    }
    assert parse_stat("ols:income ~ age + region") == {
        "kind": "ols", "y": "income", "x": ["age", "region"]
    }  # fmt: skip
    assert parse_stat("quantiles:age@0.5,0.9")["probs"] == [0.5, 0.9]
    with pytest.raises(InvalidInput):
        parse_stat("median:age")


def test_psi_reveal_to_both_gives_each_side_its_own_matched_rows(tmp_path: Path) -> None:
    roles = {"office-a": ["input", "result"], "office-b": ["input", "result"]}
    params = {"mode": "intersection", "receiver": "office-a", "sender": "office-b",
              "key": {"columns": ["id"]}, "reveal_to_both": True}  # fmt: skip
    files = _parquet(tmp_path, {n: keys_table(n) for n in roles})
    outputs, _ = _run_all(_spec("psi", roles, params), files)
    shared = set(IDS["office-a"]) & set(IDS["office-b"])
    for name in roles:
        ids = IDS[name]
        assert outputs[name]["matched_rows"] == [i for i, k in enumerate(ids) if k in shared]
        assert outputs[name]["cardinality"] == len(shared)


def test_psi_grouped_sum_with_dp_noise_per_group(tmp_path: Path) -> None:
    roles = {"office-a": ["input", "result"], "office-b": ["input"]}
    params = {"mode": "sum", "receiver": "office-a", "sender": "office-b",
              "key": {"columns": ["id"]}, "value_column": "amount", "value_bound": 1000,
              "group_column": "sector", "group_values": ["farm", "shop", "tech"]}  # fmt: skip
    files = _parquet(tmp_path, {n: keys_table(n) for n in roles})
    outputs, releases = _run_all(_spec("psi", roles, params, {"rho": 1e6}), files)
    a, b = keys_table("office-a"), keys_table("office-b")
    joined = a.merge(b, on="id", suffixes=("_a", "_b"))
    out = outputs["office-a"]
    for sector, group in out["groups"].items():
        rows = joined[joined["sector_a"] == sector]
        assert abs(group["cardinality"] - len(rows)) <= 1  # σ = 1/√(10^6) per count
        assert abs(group["total"] - int(rows["amount_b"].sum())) <= 10  # σ = 1 per sum
    assert out["total"] == sum(g["total"] for g in out["groups"].values())
    assert releases == Counter(list(roles))


def test_psi_on_the_process_pool_gives_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psi_computation, "ENGINE_MIN_ROWS", 10)
    monkeypatch.setattr(psi_computation, "default_workers", lambda: 2)
    roles = {"office-a": ["input", "result"], "office-b": ["input"]}
    params = {"mode": "intersection", "receiver": "office-a", "sender": "office-b",
              "key": {"columns": ["id"]}, "chunk_rows": 8}  # fmt: skip
    files = _parquet(tmp_path, {n: keys_table(n) for n in roles})
    outputs, _ = _run_all(_spec("psi", roles, params), files)
    shared = set(IDS["office-a"]) & set(IDS["office-b"])
    assert outputs["office-a"]["matched_rows"] == [
        i for i, k in enumerate(IDS["office-a"]) if k in shared
    ]


@pytest.mark.parametrize(
    ("cost", "extra", "message"),
    [
        ({"epsilon": 1.0}, {}, "rho"),
        (None, {"colour": "blue"}, "unknown secure_stats parameters"),
    ],
)
def test_stats_spec_refusals(
    cost: dict[str, Any] | None, extra: dict[str, Any], message: str
) -> None:
    roles = {"office-a": ["input", "computing", "result"], "office-b": ["input", "computing"]}
    params = {"card": SURVEY_CARD, "statistics": [{"kind": "count"}], "max_rows": 10, **extra}
    with pytest.raises(InvalidInput, match=message):
        stats_spec(_spec("secure_stats", roles, params, cost))


def test_stats_spec_names_one_party_per_role() -> None:
    roles = {"office-a": ["input", "computing", "result"], "office-b": ["input", "computing"]}
    params = {"card": SURVEY_CARD, "statistics": [{"kind": "count"}], "max_rows": 10}
    job = stats_spec(_spec("secure_stats", roles, params, {"rho": 0.25}))
    assert job.input_parties == ["office-a", "office-b"]
    assert job.computing_parties == ["office-a:computing", "office-b:computing"]
    assert job.result_party == "office-a:result"
    assert job.dp is not None and job.dp.rho == 0.25
