"""Fixtures for node federation tests: nodes served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.collab.served_nodes import Served, serve_node

from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[Node]:
    """A node in this process (not served), on SQLite and on PostgreSQL."""
    init_node(tmp_path / "n", name="n", database_url=database_url)
    n = Node(NodeSettings.load(tmp_path / "n"))
    yield n
    n.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def make(name: str, **kwargs: Any) -> Served:
        s = serve_node(tmp_path, name, **kwargs)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
