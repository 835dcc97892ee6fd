"""A node killed and restarted keeps every request, result, ledger and audit entry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livenode import LiveNode
from tests.node_api.conftest import CARD, CSV

pytestmark = pytest.mark.e2e

SLOW_SOURCE = """
def slow_count(persons):
    import time
    time.sleep(3)
    return len(persons)
"""


def _wait(c: httpx.Client, rid: int) -> dict[str, Any]:
    for _ in range(300):
        r = c.get(f"/v1/requests/{rid}/wait", params={"timeout": 5}).json()
        if r["status"] not in ("approved", "running"):
            return dict(r)
    raise AssertionError("request did not finish")


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[LiveNode]:
    url = None if database_url.startswith("sqlite") else database_url
    n = LiveNode.create(tmp_path, "office", database_url=url).start()
    yield n
    n.stop()


def test_kill_and_restart_keeps_everything(node: LiveNode) -> None:
    with node.http() as owner:
        up = owner.put("/v1/uploads", content=CSV.encode()).json()
        assert (
            owner.post(
                "/v1/datasets", json={"name": "persons", "card": CARD, "upload_id": up["upload_id"]}
            ).status_code
            == 201
        )
        token = owner.post("/v1/members", json={"name": "ana", "role": "analyst"}).json()["token"]
        owner.post(
            "/v1/policies", json={"name": "all", "rule": {"kinds": ["code"], "auto_release": True}}
        )
    with node.http(token) as ana:
        first = ana.post(
            "/v1/requests",
            json={
                "kind": "code",
                "payload": {
                    "source": "def n(persons):\n    return len(persons)\n",
                    "datasets": ["persons"],
                },
            },
        ).json()
        assert _wait(ana, first["id"])["status"] == "released"
        slow = ana.post(
            "/v1/requests",
            json={"kind": "code", "payload": {"source": SLOW_SOURCE, "datasets": ["persons"]}},
        ).json()
        for _ in range(100):
            if ana.get(f"/v1/requests/{slow['id']}").json()["status"] == "running":
                break
            time.sleep(0.05)
    with node.http() as owner:
        before_audit = owner.get("/v1/audit").json()
    node.kill()
    node.start()
    with node.http(token) as ana:
        assert ana.get(f"/v1/requests/{first['id']}/result").json() == 3
        receipt = ana.get(f"/v1/requests/{first['id']}/receipt").json()
        assert receipt["request"]["id"] == first["id"]
        finished = _wait(ana, slow["id"])
        assert finished["status"] == "released" and finished["attempts"] == 2
        assert ana.get(f"/v1/requests/{slow['id']}/result").json() == 3
    with node.http() as owner:
        after = owner.get("/v1/audit").json()
        assert after[: len(before_audit)] == before_audit
        assert "request.requeued" in [e["action"] for e in after]
        assert owner.get("/v1/audit/verify").json()["ok"] is True
        assert owner.get("/v1/members").json()[1]["name"] == "ana"
