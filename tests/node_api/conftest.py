"""A node served in-process over its real FastAPI app, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from insitu.node.api.app import create_app
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

CARD: dict[str, Any] = {
    "name": "persons",
    "description": "A small person register",
    "privacy_unit": {"column": "person_id", "max_rows": 1},
    "columns": [
        {"name": "person_id", "type": "string"},
        {"name": "age", "type": "integer", "lower": 0, "upper": 120},
        {"name": "region", "type": "category", "categories": ["north", "south"]},
        {"name": "income", "type": "float", "lower": 0, "upper": 200000},
    ],
}
CSV = "person_id,age,region,income\np1,34,north,41000\np2,51,south,52000.5\np3,29,north,30500\n"


@dataclass
class Api:
    client: TestClient
    node: Node
    owner_token: str

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    @property
    def owner(self) -> dict[str, str]:
        return self.as_(self.owner_token)

    def add_member(self, name: str, role: str) -> dict[str, str]:
        r = self.client.post("/v1/members", json={"name": name, "role": role}, headers=self.owner)
        assert r.status_code == 201, r.text
        return self.as_(r.json()["token"])

    def wait(self, rid: int, headers: dict[str, str]) -> dict[str, Any]:
        """Long-poll a request until it leaves approved/running."""
        for _ in range(400):
            r = self.client.get(f"/v1/requests/{rid}/wait?timeout=5", headers=headers).json()
            if r["status"] not in ("approved", "running"):
                return dict(r)
        raise AssertionError(f"request {rid} did not finish")

    def register(
        self, name: str = "persons", csv: str = CSV, card: dict[str, Any] | None = None
    ) -> Any:
        up = self.client.put("/v1/uploads", content=csv.encode(), headers=self.owner)
        assert up.status_code == 201, up.text
        body = {
            "name": name,
            "card": {**(card or CARD), "name": name},
            "upload_id": up.json()["upload_id"],
        }
        return self.client.post("/v1/datasets", json=body, headers=self.owner)


def make_api(tmp_path: Path, database_url: str | None, **limits: Any) -> tuple[Api, Node]:
    result = init_node(tmp_path / "node", name="test-node", database_url=database_url)
    settings = NodeSettings.load(tmp_path / "node")
    settings.limits = settings.limits.model_copy(update=limits)
    node = Node(settings)
    client = TestClient(create_app(node))
    return Api(client, node, result.owner_token), node


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[Api]:
    a, node = make_api(tmp_path, database_url)
    with a.client:
        yield a
    node.store.close()


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    a, node = make_api(tmp_path, None, max_upload_bytes=4096)
    with a.client:
        yield a
    node.store.close()
