"""Code requests through the client against a real node: submit, decide, wait, results, receipts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from tests.served_node import CARD, ServedNode, people_csv, served_node

from insitu.client import Listing, NodeClient, Request, RequestDenied
from insitu.errors import Conflict, ExecutionFailed, Forbidden, InvalidInput, NotFound


def count_by_region(people):  # type: ignore[no-untyped-def]
    """Head count per region."""
    return people.groupby("region", as_index=False).agg(n=("person_id", "count"))


def test_code_request_full_cycle(owner: NodeClient, analyst: NodeClient, live: ServedNode) -> None:
    req = analyst.submit_code(count_by_region, datasets=["people"], description="counts")
    assert isinstance(req, Request) and req.status == "pending"
    assert req.source is not None and req.source.startswith("def count_by_region(people):")
    assert req.id in [r.id for r in analyst.requests.list()]
    pending = owner.requests.pending()
    assert isinstance(pending, Listing) and req.id in [r.id for r in pending]
    assert "pending" in pending._repr_html_()
    assert {"id", "status", "requester"} <= set(pending.to_frame().columns)
    assert "payload" not in pending.to_frame().columns  # the source is shown per request

    with pytest.raises(Forbidden):
        analyst.request(req.id).approve()
    preview = owner.request(req.id).preview()
    assert isinstance(preview, pd.DataFrame) and set(preview["region"]) <= {"north", "south"}

    owner.request(req.id).approve()
    done = req.wait(timeout=120)
    assert done is req and req.status == "done"  # output checking: waits for the owner
    with pytest.raises(Conflict):
        req.result()
    checked = owner.request(req.id).result()  # the owner may look before releasing
    assert checked.set_index("region")["n"].to_dict() == {"north": 25, "south": 25}
    owner.request(req.id).release()
    result = req.wait(timeout=60, until_released=True).result()
    assert isinstance(result, pd.DataFrame)
    assert result.set_index("region")["n"].to_dict() == {"north": 25, "south": 25}
    receipt = req.receipt
    assert receipt["request"]["id"] == req.id and receipt["signature"]
    assert receipt["node"]["public_key"] == owner.info["public_key"]
    assert receipt["result"]["media_type"] == "application/vnd.apache.parquet"
    assert req.id in [r.id for r in analyst.requests.list(status="released")]


def test_json_result_with_an_auto_release_policy(owner: NodeClient, analyst: NodeClient) -> None:
    policy = owner.policies.add("auto-code", {"kinds": ["code"], "auto_release": True})
    assert policy.name == "auto-code" and "auto-code" in [p.name for p in owner.policies.list()]
    try:
        req = analyst.submit_code(
            "def total(people):\n    return int(people['age'].sum())\n", datasets=["people"]
        )
        assert req.status == "approved"
        assert req.wait(timeout=120).status == "released"
        assert req.result() == sum(20 + i % 50 for i in range(50))
    finally:
        owner.policies.remove("auto-code")
    assert "auto-code" not in [p.name for p in owner.policies.list()]
    with pytest.raises(NotFound):
        owner.policies.remove("auto-code")


def test_denied_request_raises_on_wait(owner: NodeClient, analyst: NodeClient) -> None:
    req = analyst.submit_code(count_by_region, datasets=["people"])
    owner.request(req.id).deny(reason="too fine-grained")
    with pytest.raises(RequestDenied, match="too fine-grained") as info:
        req.wait(timeout=30)
    assert isinstance(info.value, Conflict) and req.status == "denied"
    with pytest.raises(Conflict):
        owner.request(req.id).approve()


def test_failing_code_raises_execution_failed(owner: NodeClient, analyst: NodeClient) -> None:
    req = analyst.submit_code(
        "def boom(people):\n    raise RuntimeError('no luck')\n", datasets=["people"]
    )
    owner.request(req.id).approve()
    with pytest.raises(ExecutionFailed, match=f"request {req.id} failed"):
        req.wait(timeout=120)
    assert req.status == "failed" and req.reason


def test_wait_times_out_on_a_pending_request(analyst: NodeClient) -> None:
    req = analyst.submit_code(count_by_region, datasets=["people"])
    with pytest.raises(TimeoutError, match="pending"):
        req.wait(timeout=0.3, poll_seconds=0.1)


def test_submit_errors_round_trip(analyst: NodeClient, owner: NodeClient) -> None:
    with pytest.raises(NotFound):
        analyst.submit_code(count_by_region, datasets=["nope"])
    with pytest.raises(InvalidInput):
        analyst.submit_code("x = 1\n", datasets=["people"])
    with pytest.raises(TypeError):
        analyst.submit_code(count_by_region, datasets="people")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        analyst.submit_code(len, datasets=["people"])  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        analyst.request(999_999)
    mine = analyst.submit_code(count_by_region, datasets=["people"])
    bob = owner.members.add("bob_req", role="analyst")
    other = _as(owner, bob.token)
    with other, pytest.raises(NotFound):  # another analyst's request is invisible
        other.request(mine.id)


def _as(owner: NodeClient, token: str) -> NodeClient:
    from insitu.client import connect

    return connect(owner.url, token=token)


def test_budgets_ledger_and_audit(owner: NodeClient, analyst: NodeClient) -> None:
    view = owner.budgets.set("people", rho=0.5)
    assert view["cap_rho"] == 0.5 and view["spent_rho"] == 0
    owner.budgets.set("people", rho=0.1, analyst="ana")
    assert owner.budgets.get("people", analyst="ana")["cap_rho"] == 0.1
    assert analyst.budgets.get("people")["analyst"] == "ana"
    with pytest.raises(Forbidden):
        analyst.budgets.set("people", rho=10)
    with pytest.raises(NotFound):
        owner.budgets.set("nope", rho=1)
    assert isinstance(owner.ledger(), Listing)
    entries = owner.audit.entries()
    actions = [e["action"] for e in entries]
    assert actions[0] == "node.initialised" and "budget.cap_set" in actions
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert len(owner.audit.entries(limit=2)) == 2
    assert owner.audit.entries(after=entries[-2]["seq"]) == entries[-1:]
    assert owner.audit.verify()["ok"] is True
    with pytest.raises(Forbidden):
        analyst.audit.verify()


def test_wait_until_released_follows_the_owner(owner: NodeClient, analyst: NodeClient) -> None:
    req = analyst.submit_code(count_by_region, datasets=["people"])
    owner.request(req.id).approve()
    assert req.wait(timeout=120).status == "done"

    def release_soon() -> None:
        time.sleep(0.3)
        owner.request(req.id).release()

    releaser = threading.Thread(target=release_soon)
    releaser.start()
    try:
        assert req.wait(timeout=60, until_released=True, poll_seconds=0.05).status == "released"
    finally:
        releaser.join()


@pytest.mark.postgres
@pytest.mark.slow
def test_code_request_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    with served_node(tmp_path / "pg", name="pg", database_url=postgres_url) as node:
        with node.client() as pg_owner:
            pg_owner.datasets.add("people", path=people_csv(tmp_path / "p.csv"), card=CARD)
            ana = pg_owner.members.add("ana", role="analyst")
            pg_owner.policies.add("auto", {"kinds": ["code"], "auto_release": True})
        with node.client(ana.token) as pg_analyst:
            req = pg_analyst.submit_code(count_by_region, datasets=["people"])
            result = req.wait(timeout=120).result()
            assert result.set_index("region")["n"].to_dict() == {"north": 25, "south": 25}
            assert req.receipt["request"]["id"] == req.id
        with node.client() as pg_owner:
            assert pg_owner.audit.verify()["ok"] is True
