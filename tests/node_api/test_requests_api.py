"""The request lifecycle over HTTP: code requests, approval, output checking, receipts."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from insitu.crypto.hashing import canonical_json
from insitu.crypto.signing import VerifyKey
from tests.node_api.conftest import Api

SOURCE = """
def mean_income(persons):
    return persons.groupby("region", as_index=False)["income"].mean()
"""


def _submit(api: Api, headers: dict[str, str], source: str = SOURCE) -> dict[str, Any]:
    body = {
        "kind": "code",
        "payload": {"source": source, "datasets": ["persons"]},
        "description": "mean",
    }
    r = api.client.post("/v1/requests", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_code_request_full_lifecycle(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    req = _submit(api, ana)
    assert req["status"] == "pending" and req["output_checking"] is True
    pending = api.client.get("/v1/requests?status=pending", headers=api.owner).json()
    assert [p["payload"]["source"] for p in pending] == [SOURCE]
    preview = api.client.post(f"/v1/requests/{req['id']}/preview", headers=api.owner)
    assert preview.status_code == 200, preview.text
    assert list(pd.read_parquet(io.BytesIO(preview.content)).columns) == ["region", "income"]
    assert api.client.post(f"/v1/requests/{req['id']}/approve", headers=ana).status_code == 403
    assert (
        api.client.post(f"/v1/requests/{req['id']}/approve", headers=api.owner).json()["status"]
        == "approved"
    )
    done = api.wait(req["id"], ana)
    assert done["status"] == "done", done
    assert api.client.get(f"/v1/requests/{req['id']}/result", headers=ana).status_code == 409
    assert (
        api.client.post(f"/v1/requests/{req['id']}/release", headers=api.owner).json()["status"]
        == "released"
    )
    frame = pd.read_parquet(
        io.BytesIO(api.client.get(f"/v1/requests/{req['id']}/result", headers=ana).content)
    )
    assert dict(zip(frame["region"], frame["income"], strict=True)) == {
        "north": 35750.0,
        "south": 52000.5,
    }
    receipt = api.client.get(f"/v1/requests/{req['id']}/receipt", headers=ana).json()
    assert receipt["request"]["id"] == req["id"] and receipt["approvals"][0]["by"] == "owner"
    assert receipt["inputs"][0]["dataset"] == "persons"
    signature = bytes.fromhex(receipt.pop("signature"))
    VerifyKey.from_text(receipt["node"]["public_key"]).verify(signature, canonical_json(receipt))
    audit = api.client.get("/v1/audit", headers=api.owner).json()
    actions = [e["action"] for e in audit]
    assert {"request.submitted", "request.approved", "request.done", "request.released"} <= set(
        actions
    )
    assert audit[receipt["audit_entry"]["seq"]]["hash"] == receipt["audit_entry"]["hash"]


def test_deny_needs_reason_and_is_final(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    req = _submit(api, ana)
    r = api.client.post(f"/v1/requests/{req['id']}/deny", json={"reason": " "}, headers=api.owner)
    assert r.status_code == 422
    r = api.client.post(
        f"/v1/requests/{req['id']}/deny", json={"reason": "too detailed"}, headers=api.owner
    )
    assert r.json()["status"] == "denied" and r.json()["reason"] == "too detailed"
    assert (
        api.client.post(f"/v1/requests/{req['id']}/approve", headers=api.owner).status_code == 409
    )


def test_analysts_see_only_their_own_requests(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    bob = api.add_member("bob", "analyst")
    req = _submit(api, ana)
    assert api.client.get(f"/v1/requests/{req['id']}", headers=bob).status_code == 404
    assert api.client.get("/v1/requests", headers=bob).json() == []
    assert api.client.get(f"/v1/requests/{req['id']}/result", headers=bob).status_code == 404


def test_policy_approves_and_releases(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    rule = {"kinds": ["code"], "analysts": ["ana"], "auto_release": True}
    assert (
        api.client.post(
            "/v1/policies", json={"name": "trusted", "rule": rule}, headers=api.owner
        ).status_code
        == 201
    )
    req = _submit(api, ana)
    assert req["status"] == "approved" and req["decided_by"] == "policy:trusted"
    assert api.wait(req["id"], ana)["status"] == "released"
    value = api.client.get(f"/v1/requests/{req['id']}/result", headers=ana)
    assert value.headers["content-type"].startswith("application/vnd.apache.parquet")


def test_failing_code_fails_cleanly(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    req = _submit(api, ana, "def boom(persons):\n    raise ValueError('nope')\n")
    api.client.post(f"/v1/requests/{req['id']}/approve", headers=api.owner)
    done = api.wait(req["id"], ana)
    assert done["status"] == "failed" and "ValueError" in done["reason"]
    assert "nope" not in done["reason"]  # the message may hold private values
    audit = api.client.get("/v1/audit", headers=api.owner).json()
    failed = [e for e in audit if e["action"] == "request.failed"]
    assert "nope" in failed[0]["data"]["private"]["error"]


def test_bad_code_requests_are_refused(api: Api) -> None:
    api.register()
    ana = api.add_member("ana", "analyst")
    for payload in (
        {"source": "def f(persons): return 1", "datasets": ["secret"]},
        {"source": "def f(other): return 1", "datasets": ["persons"]},
        {"source": "this is not python", "datasets": ["persons"]},
        {"source": 42, "datasets": ["persons"]},
        {"datasets": ["persons"]},
    ):
        r = api.client.post("/v1/requests", json={"kind": "code", "payload": payload}, headers=ana)
        assert r.status_code in (404, 422), (payload, r.text)
    r = api.client.post("/v1/requests", json={"kind": "nope", "payload": {}}, headers=ana)
    assert r.status_code == 422 and "unknown request kind" in r.json()["error"]["message"]
    assert api.client.get("/v1/requests", headers=api.owner).json() == []
    assert json.loads(api.client.get("/v1/audit/verify", headers=api.owner).text)["ok"]
