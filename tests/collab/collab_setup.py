"""Peered in-process nodes with a small dataset each, and a spec builder."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.collab.served_nodes import Served
from tests.node_api.conftest import CARD, CSV


def peer_all(nodes: dict[str, Served]) -> None:
    """Every node registers every other one and holds dataset ``persons`` (3 rows)."""
    for name, node in nodes.items():
        with node.http() as c:
            for other, peer in nodes.items():
                if other != name:
                    key = peer.node.key.public_key.to_text()
                    body = {"name": other, "url": peer.url, "public_key": key}
                    assert c.post("/v1/peers", json=body).status_code == 201
            up = c.put("/v1/uploads", content=CSV.encode()).json()
            ds = {"name": "persons", "card": CARD, "upload_id": up["upload_id"]}
            assert c.post("/v1/datasets", json=ds).status_code == 201


def spec_for(
    nodes: dict[str, Served],
    collab_id: str,
    *,
    result: str,
    costs: dict[str, dict[str, Any]] | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    return {
        "collab_id": collab_id,
        "computation": "secure_count",
        "parties": [
            {
                "name": name,
                "url": s.url,
                "public_key": s.node.key.public_key.to_text(),
                "roles": ["input", "result"] if name == result else ["input"],
                "datasets": ["persons"],
            }
            for name, s in nodes.items()
        ],
        "privacy_costs": [
            {"party": n, "dataset": "persons", **((costs or {}).get(n) or {"exact": True})}
            for n in nodes
        ],
        "result_parties": [result],
        "timeout_seconds": timeout,
    }


def wait_for(check: Callable[[], Any], *, timeout: float = 30) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def state(node: Served, collab_id: str) -> dict[str, Any]:
    with node.http() as c:
        r = c.get(f"/v1/collaborations/{collab_id}")
        return dict(r.json()) if r.status_code == 200 else {"state": "absent"}
