"""Fixtures for node federation tests: nodes served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.collab.served_nodes import Served, serve_node


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
