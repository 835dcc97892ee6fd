"""Live-node fixtures for the client tests: a real node served on loopback, with a dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.served_node import CARD, ServedNode, people_csv, served_node

from insitu.client import NodeClient


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    """One node per test module, with dataset ``people`` (50 rows) registered."""
    base = tmp_path_factory.mktemp("live")
    with served_node(base / "node", name="t") as node:
        with node.client() as owner:
            owner.datasets.add("people", path=people_csv(base / "people.csv"), card=CARD)
        yield node


@pytest.fixture(scope="module")
def analyst_token(live: ServedNode) -> str:
    with live.client() as owner:
        return owner.members.add("ana", role="analyst").token


@pytest.fixture
def owner(live: ServedNode) -> Iterator[NodeClient]:
    with live.client() as client:
        yield client


@pytest.fixture
def analyst(live: ServedNode, analyst_token: str) -> Iterator[NodeClient]:
    with live.client(analyst_token) as client:
        yield client


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return people_csv(tmp_path / "people.csv", rows=20)
