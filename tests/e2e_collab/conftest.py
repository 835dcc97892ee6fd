"""One cluster of three peered node processes for the whole collaboration e2e suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.e2e_collab.collab_cluster import Cluster, make_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from make_cluster(tmp_path_factory.mktemp("collab3"))
