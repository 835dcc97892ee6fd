"""A secure count over three real node processes: approvals, denial, result, joint audit."""

from __future__ import annotations

import pytest
from tests.e2e_collab.collab_cluster import ROWS, Cluster

import insitu.client as client
from insitu.errors import Forbidden
from insitu.node.federation.transcript import compare_transcripts

pytestmark = pytest.mark.e2e


def test_secure_count_over_three_nodes(cluster: Cluster) -> None:
    cid = cluster.new_id("count")
    with client.connect(cluster.nodes["office-a"].url, token=cluster.analyst_token) as ana:
        proposed = ana.collaborations.propose(cluster.spec(cid))
        assert proposed.state == "proposed"
        # each owner sees the whole spec among pending parts, then approves its own part
        for name in ("office-b", "office-c"):
            cluster.wait(name, cid, {"proposed"})
            with cluster.owner(name) as c:
                pending = c.get("/v1/collaborations", params={"status": "pending"}).json()
            mine = next(p for p in pending if p["collab_id"] == cid)
            assert mine["spec_hash"] == proposed.data["spec_hash"]
            assert [p["name"] for p in mine["parties"]] == ["office-a", "office-b", "office-c"]
        for name in ("office-b", "office-a"):
            cluster.approve(name, cid)
        # nothing runs until every party approved
        assert ana.collaborations.get(cid).state == "approved_local"
        cluster.approve("office-c", cid)
        done = ana.collaborations.wait(cid, timeout=60)
        assert done.state == "done", done.reason
        assert all(done.parties.values())
        assert ana.collaborations.result(cid) == {"total": sum(ROWS.values())}
    for name in ("office-b", "office-c"):
        view = cluster.wait(name, cid, {"done"})
        assert view["result_available"] is False
        owner = client.connect(cluster.nodes[name].url, token=cluster.nodes[name].owner_token)
        with owner, pytest.raises(Forbidden):
            owner.collaborations.result(cid)
    # joint audit: every pair ran the same spec on the same transcript
    audits = {name: cluster.audit(name) for name in cluster.nodes}
    for a, b in (("office-a", "office-b"), ("office-b", "office-c"), ("office-a", "office-c")):
        report = compare_transcripts(audits[a], audits[b], collab_id=cid)
        assert report.ok, report.problems
        assert report.outcomes == ("done", "done")
        assert report.matched_messages >= 2
    # a tampered record shows up
    forged = [dict(e, data=dict(e["data"])) for e in audits["office-b"]]
    for e in forged:
        if e["action"] == "collab.message_received" and e["data"].get("collab_id") == cid:
            e["data"]["sha256"] = "0" * 64
            break
    assert not compare_transcripts(audits["office-a"], forged, collab_id=cid).ok or not (
        compare_transcripts(audits["office-c"], forged, collab_id=cid).ok
    )


def test_a_denial_ends_it_for_every_party_with_the_reason(cluster: Cluster) -> None:
    cid = cluster.new_id("deny")
    eps = {"office-b": {"epsilon": 0.5}}
    with cluster.owner("office-a") as c:
        assert c.post("/v1/collaborations", json=cluster.spec(cid, costs=eps)).status_code == 201
    cluster.approve("office-a", cid)
    cluster.wait("office-b", cid, {"proposed"})
    with cluster.owner("office-b") as c:
        r = c.post(f"/v1/collaborations/{cid}/deny", json={"reason": "not this quarter"})
        assert r.status_code == 200, r.text
    for name in cluster.nodes:
        view = cluster.wait(name, cid, {"denied"})
        assert view["reason"] == "not this quarter"
        assert view["ended_by"] == "office-b"
        assert view["budget"] == "none"
    with cluster.owner("office-b") as c:
        assert c.get("/v1/ledger").json() == []
        # a decided part cannot be approved afterwards
        assert c.post(f"/v1/collaborations/{cid}/approve").status_code == 409


def test_cancel_by_the_proposing_analyst(cluster: Cluster) -> None:
    cid = cluster.new_id("cancel")
    with client.connect(cluster.nodes["office-a"].url, token=cluster.analyst_token) as ana:
        ana.collaborations.propose(cluster.spec(cid))
        cluster.wait("office-c", cid, {"proposed"})
        ended = ana.collaborations.cancel(cid, reason="wrong dataset")
        assert ended.state == "cancelled"
    for name in cluster.nodes:
        assert cluster.wait(name, cid, {"cancelled"})["reason"] == "wrong dataset"
