"""PSI as a collaboration between real nodes: results equal set operations on the same data."""

from __future__ import annotations

import pytest
from tests.e2e_recipes.recipes_cluster import IDS, RecipeCluster, keys_table

import insitu
from insitu.errors import InvalidInput

pytestmark = pytest.mark.e2e


def _run(recipes: RecipeCluster, **kwargs: object) -> dict[str, object]:
    with recipes.owner("office-a") as a:
        proposed = insitu.psi(a, **kwargs)  # type: ignore[arg-type]
        recipes.approve_all(proposed.id, ("office-a", "office-b"))
        done = proposed.wait(timeout=90)
        assert done.state == "done", done.reason
        return a.collaborations.result(proposed.id)


def test_psi_intersection_matches_set_operations(recipes: RecipeCluster) -> None:
    out = _run(
        recipes, mode="intersection", receiver=("office-a", "keys"), sender=("office-b", "keys"),
        key="id",
    )  # fmt: skip
    a = keys_table("office-a")
    shared = set(IDS["office-a"]) & set(IDS["office-b"])
    assert out["matched_rows"] == [i for i, k in enumerate(a["id"]) if k in shared]
    assert out["cardinality"] == len(shared)
    assert out["sender_rows"] == len(IDS["office-b"])
    assert out["exact"] is True
    assert set(out["learns"]) == {"office-a", "office-b"}  # type: ignore[arg-type]


def test_psi_sum_forwarded_to_the_receiver(recipes: RecipeCluster) -> None:
    out = _run(
        recipes, mode="sum", receiver=("office-a", "keys"), sender=("office-b", "keys"),
        key="id", value="amount",
    )  # fmt: skip
    b = keys_table("office-b")
    shared = set(IDS["office-a"]) & set(IDS["office-b"])
    assert out["cardinality"] == len(shared)
    assert out["total"] == int(b.loc[b["id"].isin(shared), "amount"].sum())
    assert out["receiver_rows"] == len(IDS["office-a"])  # stated by the sender, who learned it


def test_psi_sum_of_a_float_column_scaled_to_cents(recipes: RecipeCluster) -> None:
    out = _run(
        recipes, mode="sum", receiver=("office-a", "keys"), sender=("office-b", "keys"),
        key="id", value="value_eur", value_scale=100,
    )  # fmt: skip
    b = keys_table("office-b")
    shared = b["id"].isin(set(IDS["office-a"]))
    assert out["total"] == int(sum(round(v * 100) for v in b.loc[shared, "value_eur"]))


def test_psi_cardinality_with_dp_charges_each_dataset_once(recipes: RecipeCluster) -> None:
    # ρ = 50: σ = 1/√100 = 0.1, so the noisy count is the true one but for a 1e-21 chance
    out = _run(
        recipes, mode="cardinality", receiver=("office-a", "keys"), sender=("office-b", "keys"),
        key="id", dp={"rho": 50.0},
    )  # fmt: skip
    assert out["cardinality"] == len(set(IDS["office-a"]) & set(IDS["office-b"]))
    assert out["dp"] == {"rho": 50.0} and out["exact"] is False
    for name in ("office-a", "office-b"):
        with recipes.owner(name) as owner:
            spent = [
                e
                for e in owner.ledger("keys")
                if str(e.get("analyst", "")).startswith("collab:psi")
            ]
        assert len(spent) == 1, spent
        assert spent[0]["rho"] == pytest.approx(50.0)


def test_a_denial_by_one_owner_ends_it_for_both(recipes: RecipeCluster) -> None:
    with recipes.owner("office-a") as a:
        proposed = insitu.psi(
            a, mode="cardinality", receiver=("office-a", "keys"), sender=("office-b", "keys"),
            key="id", dp={"epsilon": 1.0},
        )  # fmt: skip
        a.collaborations.approve(proposed.id)
        with recipes.owner("office-b") as b:
            for _ in range(100):
                if b.collaborations.list(status="pending"):
                    break
            b.collaborations.deny(proposed.id, reason="not this year")
        ended = proposed.wait(timeout=30)
        assert ended.state == "denied" and ended.reason == "not this year"
    with recipes.owner("office-b") as b:
        assert b.collaborations.wait(proposed.id, timeout=30).state == "denied"
        assert not [e for e in b.ledger("keys") if proposed.id in str(e.get("analyst", ""))]


def test_an_analyst_proposes_with_the_peers_named(recipes: RecipeCluster) -> None:
    with recipes.owner("office-a") as a:
        token = a.members.add("ana-psi").token
        peers = {p["name"]: p for p in a.peers.list()}
    with insitu.connect(recipes.nodes["office-a"].url, token=token) as ana:
        with pytest.raises(InvalidInput, match="peers="):
            insitu.psi(ana, receiver=("office-a", "keys"), sender=("office-b", "keys"), key="id")
        proposed = insitu.psi(
            ana, mode="cardinality", receiver=("office-a", "keys"), sender=("office-b", "keys"),
            key="id", peers=peers,
        )  # fmt: skip
        recipes.approve_all(proposed.id, ("office-a", "office-b"))
        assert proposed.wait(timeout=90).state == "done"
        out = ana.collaborations.result(proposed.id)
    assert out["cardinality"] == len(set(IDS["office-a"]) & set(IDS["office-b"]))
