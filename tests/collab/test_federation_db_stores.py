"""The DB-backed nonce store and inbox, on SQLite and PostgreSQL: atomic, durable, idempotent."""

from __future__ import annotations

import threading
import time

import pytest

from insitu.errors import ProtocolAbort, Unavailable
from insitu.node.federation.db_stores import DbInbox, DbNonceStore
from insitu.node.federation.store import FederationStore
from insitu.node.node import Node


def test_nonce_check_is_atomic_under_concurrency(node: Node) -> None:
    store = DbNonceStore(FederationStore(node.store))
    now = time.time()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        results.append(store.check_and_add("k1", "n" * 22, expires_at=now + 300, now=now))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_nonces_are_per_key_durable_and_expire(node: Node) -> None:
    store = DbNonceStore(FederationStore(node.store))
    assert store.check_and_add("k1", "a" * 22, expires_at=100.0, now=50.0)
    assert store.check_and_add("k2", "a" * 22, expires_at=100.0, now=50.0)
    fresh = DbNonceStore(FederationStore(node.store))  # another process, same database
    assert not fresh.check_and_add("k1", "a" * 22, expires_at=100.0, now=60.0)
    # after its expiry a nonce may be forgotten (the timestamp check refuses it anyway)
    assert fresh.check_and_add("k1", "a" * 22, expires_at=300.0, now=200.0)


def test_inbox_is_idempotent_refuses_conflicts_and_waits(node: Node) -> None:
    inbox = DbInbox(FederationStore(node.store), node.clock, poll_seconds=0.01)
    key = ("c1", "b", "a", "m1")
    assert inbox.put(key, b"hello")
    assert not inbox.put(key, b"hello")
    with pytest.raises(ProtocolAbort):
        inbox.put(key, b"other")
    assert inbox.get(key, timeout=0) == b"hello"
    assert inbox.get(key, timeout=0) == b"hello"  # readable again after a restart
    with pytest.raises(Unavailable):
        inbox.get(("c1", "b", "a", "m2"), timeout=0.05)
    later = threading.Timer(0.05, lambda: inbox.put(("c1", "b", "a", "m2"), b"late"))
    later.start()
    assert inbox.get(("c1", "b", "a", "m2"), timeout=10) == b"late"
    assert inbox.discard("c1") == 2
    with pytest.raises(Unavailable):
        inbox.get(key, timeout=0)
