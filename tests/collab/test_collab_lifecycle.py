"""The collaboration lifecycle between in-process nodes over real HTTP: checks, budget, deadline,
recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.collab.collab_setup import peer_all, spec_for, state, wait_for
from tests.collab.served_nodes import Served

from insitu.federation.job import BudgetState, Job, JobState
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.transcript import compare_transcripts

Serve = Callable[..., Served]
ENDED = {"done", "failed", "cancelled", "timed_out", "denied"}


@pytest.fixture
def pair(serve: Serve) -> dict[str, Served]:
    nodes = {"north": serve("north"), "south": serve("south")}
    peer_all(nodes)
    return nodes


def _ended(node: Served, cid: str) -> dict[str, object]:
    return wait_for(lambda: (s := state(node, cid))["state"] in ENDED and s)  # type: ignore[no-any-return]


def test_two_party_count_charges_the_budget_once_at_release(
    pair: dict[str, Served], tmp_path: Path
) -> None:
    north, south = pair["north"], pair["south"]
    spec = spec_for(pair, "budgeted", result="north", costs={"south": {"epsilon": 0.5}})
    with north.http() as c:
        assert c.post("/v1/collaborations", json=spec).status_code == 201
    wait_for(lambda: state(south, "budgeted")["state"] == "proposed")
    with south.http() as c:
        assert c.post("/v1/collaborations/budgeted/approve").status_code == 200
    with north.http() as c:
        assert c.post("/v1/collaborations/budgeted/approve").status_code == 200
    assert _ended(north, "budgeted")["state"] == "done"
    assert _ended(south, "budgeted")["budget"] == "charged"
    with north.http() as c:
        assert c.get("/v1/collaborations/budgeted/result").json()["result"] == {"total": 6}
        assert c.get("/v1/ledger").json() == []  # exact release: audited, not a DP charge
    with south.http() as c:
        ledger = c.get("/v1/ledger").json()
    assert len(ledger) == 1
    assert ledger[0]["dataset"] == "persons"
    assert ledger[0]["rho"] == pytest.approx(0.125)
    north.node.audit.export(tmp_path / "north.jsonl")
    south.node.audit.export(tmp_path / "south.jsonl")
    report = compare_transcripts(
        tmp_path / "north.jsonl", tmp_path / "south.jsonl", collab_id="budgeted"
    )
    assert report.ok, report.problems
    assert report.parties == ("north", "south") and report.matched_messages == 3


def test_proposals_name_only_registered_peers_and_known_computations(serve: Serve) -> None:
    a, b, c = serve("a"), serve("b"), serve("c")
    peer_all({"a": a, "b": b})
    spec = spec_for({"a": a, "b": b, "c": c}, "stranger", result="a")
    with a.http() as h:
        r = h.post("/v1/collaborations", json=spec)
        assert r.status_code == 403
        assert "register it first" in r.json()["error"]["message"]
        bad = spec_for({"a": a, "b": b}, "unknown", result="a")
        bad["computation"] = "mystery"
        r = h.post("/v1/collaborations", json=bad)
        assert r.status_code == 422 and "unknown computation" in r.text
        bad = spec_for({"a": a, "b": b}, "nodata", result="a")
        bad["parties"][0]["datasets"] = ["missing"]
        bad["privacy_costs"][0]["dataset"] = "missing"
        assert h.post("/v1/collaborations", json=bad).status_code == 404
        not_me = spec_for({"b": b, "c": c}, "notme", result="b")
        assert h.post("/v1/collaborations", json=not_me).status_code == 422


def test_analysts_propose_and_watch_but_owners_decide(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    with north.http() as c:
        token = c.post("/v1/members", json={"name": "ana", "role": "analyst"}).json()["token"]
    with north.http(token) as ana:
        assert (
            ana.post("/v1/collaborations", json=spec_for(pair, "mine", result="north")).status_code
            == 201
        )
        assert ana.post("/v1/collaborations/mine/approve").status_code == 403
        assert [x["collab_id"] for x in ana.get("/v1/collaborations").json()] == ["mine"]
    with north.http() as c:
        assert (
            c.post("/v1/collaborations", json=spec_for(pair, "owners", result="north")).status_code
            == 201
        )
    with north.http(token) as ana:
        assert [x["collab_id"] for x in ana.get("/v1/collaborations").json()] == ["mine"]
        assert ana.get("/v1/collaborations/owners").status_code == 403
    wait_for(lambda: state(south, "mine")["state"] == "proposed")
    assert state(south, "mine")["proposed_by"] == "ana@north"


def test_no_approval_means_timeout_everywhere(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    with north.http() as c:
        spec = spec_for(pair, "late", result="north", timeout=1.5)
        assert c.post("/v1/collaborations", json=spec).status_code == 201
        c.post("/v1/collaborations/late/approve")
    for node in (north, south):
        view = _ended(node, "late")
        assert view["state"] == "timed_out"
        assert view["reason"] == "deadline passed"
    with south.http() as c:
        assert c.post("/v1/collaborations/late/approve").status_code == 409


def test_restart_fails_a_running_job_and_tells_the_others(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    spec = CollaborationSpec.parse(spec_for(pair, "crash", result="north"))
    now = time.time()
    # south approved and waits; north stored "running" and died before any release
    south_job = Job.propose(spec, me="south", now=now).approve("south", now=now)
    south.node.federation.store.add_collab(spec, south_job, proposed_by="x", at=south.node.clock())
    north_job = Job.propose(spec, me="north", now=now)
    north_job = north_job.approve("north", now=now).approve("south", now=now).start(now=now)
    fed = north.node.federation
    fed.store.add_collab(spec, north_job, proposed_by="owner", at=north.node.clock())
    fed.runner.recover()
    ended = fed.collaborations.get("crash").job
    assert ended.state is JobState.FAILED
    assert ended.budget is BudgetState.REFUNDED and not ended.released
    view = _ended(south, "crash")
    assert view["state"] == "cancelled"
    assert "restarted" in str(view["reason"])


def test_secure_sum_of_an_integer_column(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    spec = spec_for(pair, "ages", result="south")
    spec["parameters"] = {"column": "age"}
    with north.http() as c:
        assert c.post("/v1/collaborations", json=spec).status_code == 201
        assert c.post("/v1/collaborations/ages/approve").status_code == 200
    wait_for(lambda: state(south, "ages")["state"] == "proposed")
    with south.http() as c:
        assert c.post("/v1/collaborations/ages/approve").status_code == 200
    assert _ended(south, "ages")["state"] == "done"
    assert _ended(north, "ages")["result_available"] is False
    with south.http() as c:
        assert c.get("/v1/collaborations/ages/result").json()["result"] == {"total": 2 * 114}


@pytest.mark.postgres
@pytest.mark.slow
def test_two_party_count_with_postgres_nodes(serve: Serve, postgres_url: str) -> None:
    import psycopg

    second = postgres_url.rsplit("/", 1)[0] + "/" + postgres_url.rsplit("/", 1)[1] + "_b"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{second.rsplit("/", 1)[1]}"')
    try:
        nodes = {
            "east": serve("east", database_url=postgres_url),
            "west": serve("west", database_url=second),
        }
        peer_all(nodes)
        with nodes["east"].http() as c:
            spec = spec_for(nodes, "pg", result="east")
            assert c.post("/v1/collaborations", json=spec).status_code == 201
            assert c.post("/v1/collaborations/pg/approve").status_code == 200
        wait_for(lambda: state(nodes["west"], "pg")["state"] == "proposed")
        with nodes["west"].http() as c:
            assert c.post("/v1/collaborations/pg/approve").status_code == 200
        assert _ended(nodes["east"], "pg")["state"] == "done"
        with nodes["east"].http() as c:
            assert c.get("/v1/collaborations/pg/result").json()["result"] == {"total": 6}
        for node in nodes.values():
            node.stop()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{second.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_a_cost_over_budget_stops_it_before_anything_is_sent(pair: dict[str, Served]) -> None:
    north, south = pair["north"], pair["south"]
    with south.http() as c:
        assert c.put("/v1/budgets/persons", json={"rho": 0.01}).status_code == 200
    spec = spec_for(pair, "costly", result="north", costs={"south": {"epsilon": 0.5}})
    with north.http() as c:
        assert c.post("/v1/collaborations", json=spec).status_code == 201
        assert c.post("/v1/collaborations/costly/approve").status_code == 200
    wait_for(lambda: state(south, "costly")["state"] == "proposed")
    with south.http() as c:
        assert c.post("/v1/collaborations/costly/approve").status_code == 200
    s_view, n_view = _ended(south, "costly"), _ended(north, "costly")
    assert s_view["state"] == "failed" and "ρ=0.01 left" in str(s_view["reason"])
    assert n_view["state"] in {"failed", "cancelled"} and "ρ=0.01 left" in str(n_view["reason"])
    assert s_view["budget"] == "none" and not s_view["released"]
    with south.http() as c:
        assert c.get("/v1/ledger").json() == []
    sent = [e for e in south.node.audit.entries() if e.action == "collab.message_sent"]
    assert sent == []
