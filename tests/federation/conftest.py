"""Fixtures for federation tests: real HTTP peers on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from peer_network import PeerNetwork


@pytest.fixture
def network() -> Iterator[PeerNetwork]:
    net = PeerNetwork()
    yield net
    net.close()


@pytest.fixture
def no_sleep() -> Callable[[float], None]:
    """A sleep that returns at once, so retry tests do not wait."""
    return lambda _seconds: None
