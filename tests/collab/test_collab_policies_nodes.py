"""Collaboration policies between two in-process nodes over real HTTP: a matching policy
approves the part as it arrives or is proposed; anything else is left for the owner."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.collab.collab_setup import peer_all, spec_for, state, wait_for
from tests.collab.served_nodes import Served, serve_node

from insitu.node.node import Node

#: South approves secure counts that north proposes, on ``persons``, at ε ≤ 0.5.
SOUTH_RULE = {
    "kinds": ["collab:secure_count"],
    "datasets": ["persons"],
    "peers": ["north"],
    "proposers": ["peer:north"],
    "max_epsilon": 0.5,
}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[dict[str, Served]]:
    with _pair(tmp_path) as nodes:
        yield nodes


@contextmanager
def _pair(tmp_path: Path, *, south_db: str | None = None) -> Iterator[dict[str, Served]]:
    nodes = {"north": serve_node(tmp_path, "north")}
    try:
        nodes["south"] = serve_node(tmp_path, "south", database_url=south_db)
        peer_all(nodes)
        with nodes["south"].http() as c:
            r = c.post("/v1/policies", json={"name": "counts-from-north", "rule": SOUTH_RULE})
            assert r.status_code == 201, r.text
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()


def propose(node: Served, spec: dict[str, Any]) -> dict[str, Any]:
    with node.http() as c:
        r = c.post("/v1/collaborations", json=spec)
        assert r.status_code == 201, r.text
        return dict(r.json())


def pending_ids(node: Served) -> list[str]:
    with node.http() as c:
        return [p["collab_id"] for p in c.get("/v1/collaborations?status=pending").json()]


def collab_audit(node: Node, cid: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e.actor, e.action, e.data)
        for e in node.audit.entries()
        if e.action.startswith("collab.") and e.data.get("collab_id") == cid
    ]


def test_the_policy_approves_the_arriving_part_and_the_proposer_hears_of_it(
    pair: dict[str, Served],
) -> None:
    _arrival_approved_by_policy(pair)


@pytest.mark.postgres
def test_the_policy_approves_the_arriving_part_on_postgres(
    tmp_path: Path, postgres_url: str
) -> None:
    with _pair(tmp_path, south_db=postgres_url) as pair:
        _arrival_approved_by_policy(pair)


def _arrival_approved_by_policy(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    propose(north, spec_for(pair, "auto", result="north", costs={"south": {"epsilon": 0.5}}))
    arrived = wait_for(lambda: (s := state(south, "auto"))["state"] != "absent" and s)
    assert arrived["state"] == "approved_local"  # approved as it was stored
    assert "auto" not in pending_ids(south)
    approved = [a for a in collab_audit(south.node, "auto") if a[1] == "collab.approved"]
    assert approved == [
        (
            "policy:counts-from-north",
            "collab.approved",
            {**approved[0][2], "party": "south", "state": "approved_local"},
        )
    ]
    # the approval reaches north like a manual one; north's owner still decides north's part
    wait_for(lambda: state(north, "auto")["waiting_for"] == ["north"])
    seen = {p["name"]: p["approved"] for p in state(north, "auto")["parties"]}
    assert seen == {"north": False, "south": True}
    assert pending_ids(north) == ["auto"]
    with north.http() as c:
        assert c.post("/v1/collaborations/auto/approve").status_code == 200
    wait_for(lambda: state(north, "auto")["state"] == "done")
    with north.http() as c:
        assert c.get("/v1/collaborations/auto/result").json()["result"] == {"total": 6}


@pytest.mark.parametrize(
    ("label", "changes"),
    [
        ("costly", {"costs": {"south": {"epsilon": 0.6}}}),
        ("exact", {"costs": {}}),  # no stated DP cost, and the rule bounds ε
        ("rho-only", {"costs": {"south": {"rho": 0.01}}}),  # no ε to compare
        ("other-kind", {"computation": "secure_sum"}),
    ],
)
def test_a_part_the_policy_does_not_cover_waits_for_the_owner(
    pair: dict[str, Served], label: str, changes: dict[str, Any]
) -> None:
    north, south = pair["north"], pair["south"]
    spec = spec_for(pair, label, result="north", costs=changes.get("costs", {}))
    spec["computation"] = changes.get("computation", spec["computation"])
    propose(north, spec)
    assert wait_for(lambda: state(south, label)["state"] != "absent")
    assert state(south, label)["state"] == "proposed"
    assert label in pending_ids(south)
    assert not [a for a in collab_audit(south.node, label) if a[1] == "collab.approved"]
    with south.http() as c:  # the owner can still decide by hand
        assert c.post(f"/v1/collaborations/{label}/approve").status_code == 200
    actors = [a[0] for a in collab_audit(south.node, label) if a[1] == "collab.approved"]
    assert actors == ["owner"]


def test_another_party_or_proposer_than_the_rule_names_waits(tmp_path: Path) -> None:
    nodes = {name: serve_node(tmp_path, name) for name in ("north", "south", "east")}
    try:
        peer_all(nodes)
        north, south, east = nodes["north"], nodes["south"], nodes["east"]

        def add_policy(name: str, rule: dict[str, Any]) -> None:
            with south.http() as c:
                r = c.post("/v1/policies", json={"name": name, "rule": rule})
                assert r.status_code == 201, r.text

        def arrived_as(cid: str) -> str:
            wait_for(lambda: state(south, cid)["state"] != "absent")
            return str(state(south, cid)["state"])

        spec = spec_for(nodes, "three", result="north", costs={"south": {"epsilon": 0.1}})
        add_policy("north-only", SOUTH_RULE)
        # north proposes, but east (not a listed peer) is a party too
        propose(north, {**spec, "collab_id": "with-east"})
        assert arrived_as("with-east") == "proposed"
        add_policy("from-north", {**SOUTH_RULE, "peers": ["north", "east"]})
        # east proposes: both peers are listed, but east is not a listed proposer
        propose(east, {**spec, "collab_id": "by-east"})
        assert arrived_as("by-east") == "proposed"
        # the same spec proposed by north is covered
        propose(north, {**spec, "collab_id": "by-north"})
        assert arrived_as("by-north") == "approved_local"
        actors = [a[0] for a in collab_audit(south.node, "by-north") if a[1] == "collab.approved"]
        assert actors == ["policy:from-north"]
    finally:
        for node in nodes.values():
            node.stop()


def test_a_missing_dataset_leaves_the_part_to_the_owner_and_the_proposal_arrives(
    pair: dict[str, Served],
) -> None:
    north, south = pair["north"], pair["south"]
    with south.http() as c:
        body = {"name": "any-count", "rule": {"kinds": ["collab:secure_count"]}}
        assert c.post("/v1/policies", json=body).status_code == 201
    spec = spec_for(pair, "missing", result="north")
    spec["parties"][1]["datasets"] = ["registry"]
    spec["privacy_costs"][1]["dataset"] = "registry"
    propose(north, spec)
    assert wait_for(lambda: state(south, "missing")["state"] != "absent")
    assert state(south, "missing")["state"] == "proposed"
    assert not [a for a in collab_audit(south.node, "missing") if a[1] == "collab.approved"]


def test_a_policy_approves_a_part_proposed_at_its_own_node(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    with north.http() as c:
        rule = {"kinds": ["collab:secure_count"], "proposers": ["owner"], "peers": ["south"]}
        assert c.post("/v1/policies", json={"name": "mine", "rule": rule}).status_code == 201
    proposed = propose(north, spec_for(pair, "local", result="north"))
    assert proposed["state"] == "approved_local"
    assert [p["approved"] for p in proposed["parties"]] == [True, False]
    actors = [(a[0], a[1]) for a in collab_audit(north.node, "local")]
    assert actors == [("owner", "collab.proposed"), ("policy:mine", "collab.approved")]
    # south's rule bounds ε and this spec is exact: south's owner decides by hand
    wait_for(lambda: state(south, "local")["state"] == "proposed")
    with south.http() as c:
        assert c.post("/v1/collaborations/local/approve").status_code == 200
    wait_for(lambda: state(north, "local")["state"] == "done")
