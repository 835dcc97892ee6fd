"""Members, tokens and roles over the HTTP API."""

from __future__ import annotations

from datetime import timedelta

from tests.node_api.conftest import Api


def test_no_token_bad_token_and_owner_only(api: Api) -> None:
    c = api.client
    assert c.get("/v1/me").status_code == 401
    assert c.get("/v1/me", headers=api.as_("ins_notatoken")).status_code == 401
    assert c.get("/v1/me", headers=api.owner).json()["role"] == "owner"
    analyst = api.add_member("ana", "analyst")
    r = c.post("/v1/members", json={"name": "eve", "role": "owner"}, headers=analyst)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert c.get("/v1/members", headers=analyst).status_code == 403
    assert c.get("/v1/audit", headers=analyst).status_code == 403


def test_unknown_role_and_bad_names(api: Api) -> None:
    c = api.client
    r = c.post("/v1/members", json={"name": "x", "role": "admin"}, headers=api.owner)
    assert r.status_code == 422 and "unknown role" in r.json()["error"]["message"]
    r = c.post("/v1/members", json={"name": "../../etc", "role": "analyst"}, headers=api.owner)
    assert r.status_code == 422
    r = c.post("/v1/members", json={"name": "x", "role": "analyst", "extra": 1}, headers=api.owner)
    assert r.status_code == 422


def test_revoked_token_is_refused(api: Api) -> None:
    analyst = api.add_member("ana", "analyst")
    assert api.client.get("/v1/me", headers=analyst).status_code == 200
    r = api.client.post("/v1/members/ana/revoke", headers=api.owner)
    assert r.json() == {"revoked": 1}
    assert api.client.get("/v1/me", headers=analyst).status_code == 401


def test_expired_token_is_refused(api: Api) -> None:
    api.add_member("ana", "analyst")
    r = api.client.post("/v1/members/ana/tokens", json={"expires_in_days": 1}, headers=api.owner)
    token = r.json()["token"]
    assert api.client.get("/v1/me", headers=api.as_(token)).status_code == 200
    real_clock = api.node.members._clock
    api.node.members._clock = lambda: real_clock() + timedelta(days=2)
    assert api.client.get("/v1/me", headers=api.as_(token)).status_code == 401


def test_auditor_reads_audit_only(api: Api) -> None:
    auditor = api.add_member("aud", "auditor")
    assert api.client.get("/v1/audit", headers=auditor).status_code == 200
    assert api.client.get("/v1/audit/verify", headers=auditor).json()["ok"] is True
    r = api.client.post("/v1/requests", json={"kind": "code", "payload": {}}, headers=auditor)
    assert r.status_code == 403
