"""Three real node processes: office-b's part is approved by its policy as the proposal
arrives, office-a's and office-c's by their owners, and the secure count runs to done."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.collab.collab_setup import wait_for
from tests.e2e_collab.collab_cluster import ROWS, Cluster, make_cluster
from tests.livenode import LiveNode
from typer.testing import CliRunner

import insitu.client as client
from insitu.cli.main import app

pytestmark = pytest.mark.e2e

#: office-b approves secure counts on ``persons`` that office-a proposes with office-c,
#: at ρ ≤ 0.02 per dataset.
RULE = {
    "kinds": ["collab:secure_count"],
    "datasets": ["persons"],
    "peers": ["office-a", "office-c"],
    "proposers": ["peer:office-a"],
    "max_rho": 0.02,
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from make_cluster(tmp_path_factory.mktemp("collab-policy"))


def cli(node: LiveNode, *args: str) -> Any:
    env = {"INSITU_URL": node.url, "INSITU_TOKEN": node.owner_token, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def pending_table(node: LiveNode) -> str:
    result = cli(node, "request", "list", "--status", "pending")
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def collab_entries(owner: client.NodeClient, cid: str, action: str) -> list[dict[str, Any]]:
    return [
        e
        for e in owner.audit.entries()
        if e["action"] == action and e["data"].get("collab_id") == cid
    ]


def test_one_part_approved_by_policy_the_others_by_hand_runs_to_done(cluster: Cluster) -> None:
    a, b = cluster.nodes["office-a"], cluster.nodes["office-b"]
    added = cli(b, "policy", "add", "counts-from-a", "--rule", json.dumps(RULE), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["rule"]["proposers"] == ["peer:office-a"]
    cid, costly = cluster.new_id("by-policy"), cluster.new_id("too-costly")
    with (
        client.connect(a.url, token=cluster.analyst_token) as ana,
        client.connect(a.url, token=a.owner_token) as owner_a,
        client.connect(b.url, token=b.owner_token) as owner_b,
    ):
        proposed = ana.collaborations.propose(cluster.spec(cid, costs={"office-b": {"rho": 0.02}}))
        assert proposed.state == "proposed"
        # office-b's policy approved its part as it arrived; office-a hears of it
        wait_for(lambda: ana.collaborations.get(cid).parties["office-b"])
        part_b = owner_b.collaborations.get(cid)
        assert part_b.state == "approved_local"
        assert part_b.parties == {"office-a": False, "office-b": True, "office-c": False}
        assert cid not in [c.id for c in owner_b.collaborations.list(status="pending")]
        assert cid not in pending_table(b)
        # a part over the rule's bound waits for office-b's owner, listed as pending
        ana.collaborations.propose(cluster.spec(costly, costs={"office-b": {"rho": 0.05}}))
        wait_for(lambda: owner_b.collaborations.list(status="pending"))
        assert [c.id for c in owner_b.collaborations.list(status="pending")] == [costly]
        assert costly in pending_table(b)
        listed = cli(b, "request", "list", "--status", "pending", "--json")
        assert listed.exit_code == 0, listed.output
        parts = [e for e in json.loads(listed.stdout) if e["kind"] == "collaboration"]
        assert [(e["id"], e["status"], e["computation"]) for e in parts] == [
            (costly, "pending", "secure_count")
        ]
        owner_b.collaborations.deny(costly, reason="over our bound")
        # office-a's and office-c's owners approve by hand; the job runs
        cluster.approve("office-c", cid)
        owner_a.collaborations.approve(cid)
        done = ana.collaborations.wait(cid, timeout=60)
        assert done.state == "done", done.reason
        assert ana.collaborations.result(cid) == {"total": sum(ROWS.values())}
        assert owner_b.collaborations.wait(cid, timeout=60).state == "done"
        assert [(c["dataset"], c["rho"]) for c in owner_b.ledger()] == [("persons", 0.02)]
        approvals = {
            name: [(e["actor"], e["data"]["party"]) for e in collab_entries(o, cid, action)]
            for name, o, action in (
                ("b", owner_b, "collab.approved"),
                ("a", owner_a, "collab.approved"),
                ("a heard", owner_a, "collab.peer_approved"),
            )
        }
    assert approvals["b"] == [("policy:counts-from-a", "office-b")]
    assert approvals["a"] == [("owner", "office-a")]
    assert sorted(party for _, party in approvals["a heard"]) == ["office-b", "office-c"]


def test_a_collaboration_rule_with_request_conditions_is_refused(
    cluster: Cluster, tmp_path: Path
) -> None:
    b = cluster.nodes["office-b"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("kinds: [collab:secure_count]\nanalysts: [ana]\n")
    result = cli(b, "policy", "add", "bad", "--rule-file", str(bad))
    assert result.exit_code == 1
    assert "error[invalid_input]" in result.stderr and "proposers" in result.stderr
    with client.connect(b.url, token=b.owner_token) as owner_b:
        assert "bad" not in [p.name for p in owner_b.policies.list()]
