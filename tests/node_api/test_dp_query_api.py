"""DP queries through the node: policy approval, ledger, concurrency, no spend on refusal."""

from __future__ import annotations

import io
import threading
from typing import Any

import pandas as pd

from tests.node_api.conftest import Api

SQL = "SELECT region, COUNT(*) AS people, AVG(income) AS mean_income FROM persons GROUP BY region"
ROWS = "person_id,age,region,income\n" + "".join(
    f"p{i},{20 + i % 60},{'north' if i % 3 else 'south'},{1000 * (i % 90)}\n" for i in range(600)
)


def _query(api: Api, headers: dict[str, str], **privacy: Any) -> Any:
    body = {"kind": "dp_query", "payload": {"dataset": "persons", "sql": SQL, **privacy}}
    return api.client.post("/v1/requests", json=body, headers=headers)


def test_policy_releases_dp_query_with_error_columns_and_charges_ledger(api: Api) -> None:
    assert api.register(csv=ROWS).status_code == 201
    ana = api.add_member("ana", "analyst")
    rule = {"kinds": ["dp_query"], "max_rho": 0.5}
    api.client.post("/v1/policies", json={"name": "small", "rule": rule}, headers=api.owner)
    est = api.client.post(
        "/v1/queries/estimate", json={"dataset": "persons", "sql": SQL, "rho": 0.2}, headers=ana
    )
    assert est.status_code == 200 and est.json()["cost"]["rho"] == 0.2
    assert api.client.get("/v1/ledger", headers=ana).json() == []
    r = _query(api, ana, rho=0.2)
    assert r.status_code == 201, r.text
    assert r.json()["decided_by"] == "policy:small"
    done = api.wait(r.json()["id"], ana)
    assert done["status"] == "released", done
    frame = pd.read_parquet(
        io.BytesIO(api.client.get(f"/v1/requests/{done['id']}/result", headers=ana).content)
    )
    assert set(frame["region"]) == {"north", "south"}
    assert any("ci" in c or "scale" in c or "sd" in c for c in frame.columns), frame.columns
    ledger = api.client.get("/v1/ledger", headers=ana).json()
    assert [(c["dataset"], c["rho"]) for c in ledger] == [("persons", 0.2)]
    big = _query(api, ana, rho=0.9)
    assert big.json()["status"] == "pending"  # over the policy's limit: waits for the owner


def test_refused_queries_spend_nothing(api: Api) -> None:
    api.register(csv=ROWS)
    ana = api.add_member("ana", "analyst")
    for sql in (
        "SELECT income FROM persons",
        "SELECT MAX(income) FROM persons",
        "DROP TABLE persons",
    ):
        body = {"kind": "dp_query", "payload": {"dataset": "persons", "sql": sql, "rho": 0.1}}
        r = api.client.post("/v1/requests", json=body, headers=ana)
        assert r.status_code == 422 and r.json()["error"]["code"] == "query_error", r.text
    assert _query(api, ana, rho=-1).status_code == 422
    assert _query(api, ana, rho=0.1, epsilon=1.0).status_code == 422
    assert api.client.get("/v1/ledger", headers=api.owner).json() == []


def test_concurrent_queries_never_overspend(api: Api) -> None:
    api.register(csv=ROWS)
    ana = api.add_member("ana", "analyst")
    api.client.put("/v1/budgets/persons", json={"rho": 1.0}, headers=api.owner)
    api.client.post(
        "/v1/policies", json={"name": "all", "rule": {"kinds": ["dp_query"]}}, headers=api.owner
    )
    ids: list[int] = []
    lock = threading.Lock()

    def submit() -> None:
        r = _query(api, ana, rho=0.15)
        if r.status_code == 201:
            with lock:
                ids.append(r.json()["id"])

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = [api.wait(i, ana)["status"] for i in ids]
    ledger = api.client.get("/v1/ledger", headers=api.owner).json()
    spent = sum(c["rho"] for c in ledger)
    assert spent <= 1.0 + 1e-9
    assert len(ledger) == outcomes.count("released") == 6
    budget = api.client.get("/v1/budgets/persons", headers=api.owner).json()
    assert abs(budget["spent_rho"] - spent) < 1e-9
    audit = api.client.get("/v1/audit?limit=10000", headers=api.owner).json()
    assert sum(1 for e in audit if e["action"] == "budget.charged") == len(ledger)
