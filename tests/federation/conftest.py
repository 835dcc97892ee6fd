"""Fixtures for federation tests: real HTTP peers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from peer_network import FakeTime, PeerNetwork


@pytest.fixture
def network() -> Iterator[PeerNetwork]:
    net = PeerNetwork()
    yield net
    net.close()


@pytest.fixture
def fake_time() -> FakeTime:
    """A clock that moves only when the code under test sleeps."""
    return FakeTime()
