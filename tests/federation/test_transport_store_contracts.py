"""Contract suites for NonceStore and Inbox, run against every implementation.

A database-backed implementation joins by adding a factory to ``NONCE_STORES``
or ``INBOXES``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from insitu.errors import ProtocolAbort, Unavailable
from insitu.federation.inbox import Inbox, MemoryInbox
from insitu.federation.nonces import MemoryNonceStore, NonceStore

NONCE_STORES: dict[str, Callable[[], NonceStore]] = {"memory": MemoryNonceStore}
INBOXES: dict[str, Callable[[], Inbox]] = {"memory": MemoryInbox}


@pytest.fixture(params=sorted(NONCE_STORES))
def nonces(request: pytest.FixtureRequest) -> NonceStore:
    return NONCE_STORES[request.param]()


@pytest.fixture(params=sorted(INBOXES))
def inbox(request: pytest.FixtureRequest) -> Inbox:
    return INBOXES[request.param]()


def test_nonce_is_new_once(nonces: NonceStore) -> None:
    assert nonces.check_and_add("k1", "n" * 22, expires_at=100.0, now=0.0)
    assert not nonces.check_and_add("k1", "n" * 22, expires_at=100.0, now=1.0)


def test_nonces_are_per_key(nonces: NonceStore) -> None:
    assert nonces.check_and_add("k1", "n" * 22, expires_at=100.0, now=0.0)
    assert nonces.check_and_add("k2", "n" * 22, expires_at=100.0, now=0.0)


def test_nonce_is_remembered_until_it_expires(nonces: NonceStore) -> None:
    assert nonces.check_and_add("k", "a" * 22, expires_at=100.0, now=0.0)
    for other in range(50):  # traffic that could trigger purging
        nonces.check_and_add("k", f"{other:022d}", expires_at=200.0, now=99.0)
    assert not nonces.check_and_add("k", "a" * 22, expires_at=200.0, now=100.0)


def test_check_and_add_is_atomic(nonces: NonceStore) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(nonces.check_and_add("k", "race" * 6, expires_at=1e12, now=0.0))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_memory_nonce_store_refuses_rather_than_forgets_when_full() -> None:
    store = MemoryNonceStore(max_entries=2)
    assert store.check_and_add("k", "a" * 22, expires_at=10.0, now=0.0)
    assert store.check_and_add("k", "b" * 22, expires_at=10.0, now=0.0)
    assert not store.check_and_add("k", "c" * 22, expires_at=10.0, now=0.0)
    assert store.check_and_add("k", "c" * 22, expires_at=30.0, now=20.0)  # old ones expired
    assert len(store) == 1


KEY = ("c1", "alice", "bob", "m1")


def test_inbox_put_is_idempotent(inbox: Inbox) -> None:
    assert inbox.put(KEY, b"hello")
    assert not inbox.put(KEY, b"hello")
    assert inbox.get(KEY, timeout=0) == b"hello"
    assert inbox.get(KEY, timeout=0) == b"hello"  # readable again after a restart


def test_inbox_refuses_a_differing_repeat(inbox: Inbox) -> None:
    inbox.put(KEY, b"hello")
    with pytest.raises(ProtocolAbort):
        inbox.put(KEY, b"other")
    assert inbox.get(KEY, timeout=0) == b"hello"


def test_inbox_keys_are_distinct_per_field(inbox: Inbox) -> None:
    keys = [KEY, ("c2", *KEY[1:]), (KEY[0], "carol", *KEY[2:]), (*KEY[:2], "dave", KEY[3])]
    for i, key in enumerate(keys):
        assert inbox.put(key, bytes([i]))
    assert [inbox.get(k, timeout=0) for k in keys] == [bytes([i]) for i in range(4)]


def test_inbox_get_waits_for_the_message(inbox: Inbox) -> None:
    timer = threading.Timer(0.05, inbox.put, args=(KEY, b"late"))
    timer.start()
    try:
        assert inbox.get(KEY, timeout=10) == b"late"
    finally:
        timer.join()


def test_inbox_get_times_out(inbox: Inbox) -> None:
    with pytest.raises(Unavailable):
        inbox.get(KEY, timeout=0.01)


def test_inbox_discard_forgets_one_collaboration(inbox: Inbox) -> None:
    inbox.put(KEY, b"a")
    inbox.put(("c2", *KEY[1:]), b"b")
    assert inbox.discard("c1") == 1
    with pytest.raises(Unavailable):
        inbox.get(KEY, timeout=0)
    assert inbox.get(("c2", *KEY[1:]), timeout=0) == b"b"
