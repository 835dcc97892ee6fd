"""The Store contract, run against every implementation and backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from insitu.errors import AlreadyExists, Conflict, NotFound
from insitu.node.db.engine import make_engine
from insitu.node.db.migrate import current_revision, head_revision, upgrade
from insitu.node.store.records import (
    AuditRecord,
    BudgetCap,
    Charge,
    Dataset,
    NewRequest,
    Result,
    Role,
    Status,
)
from insitu.node.store.sql import SqlStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    s = SqlStore(engine)
    yield s
    s.close()


def _dataset(name: str = "persons") -> Dataset:
    return Dataset(
        name, {"name": name, "columns": []}, f"{name}.parquet", "ab" * 32, 10, 100, T0, "owner"
    )


def _request(store: SqlStore, requester: str = "ana") -> int:
    new = NewRequest(
        "code", requester, ["persons"], {"source": "def f(persons): return 1"}, "cd" * 32
    )
    return store.add_request(new, at=T0).id


def test_migrations_reach_head(store: SqlStore) -> None:
    assert current_revision(store.engine) == head_revision()


def test_members_unique_and_found(store: SqlStore) -> None:
    m = store.add_member("alice", Role.ANALYST, at=T0)
    assert store.get_member("alice") == m
    with pytest.raises(AlreadyExists):
        store.add_member("alice", Role.OWNER, at=T0)
    with pytest.raises(NotFound):
        store.get_member("bob")


def test_tokens_expire_and_revoke(store: SqlStore) -> None:
    store.add_member("alice", Role.ANALYST, at=T0)
    store.add_token("alice", "h1", label="", at=T0, expires_at=T0 + timedelta(days=1))
    store.add_token("alice", "h2", label="", at=T0, expires_at=None)
    assert store.member_for_token("h1", now=T0).name == "alice"  # type: ignore[union-attr]
    assert store.member_for_token("h1", now=T0 + timedelta(days=2)) is None
    assert store.member_for_token("nope", now=T0) is None
    assert store.revoke_tokens("alice", at=T0) == 2
    assert store.member_for_token("h2", now=T0) is None
    assert all(t.revoked_at is not None for t in store.list_tokens("alice"))


def test_datasets(store: SqlStore) -> None:
    store.add_dataset(_dataset())
    assert store.get_dataset("persons").rows == 10
    with pytest.raises(AlreadyExists):
        store.add_dataset(_dataset())
    assert [d.name for d in store.list_datasets()] == ["persons"]
    store.delete_dataset("persons")
    with pytest.raises(NotFound):
        store.get_dataset("persons")


def test_transition_is_compare_and_set(store: SqlStore) -> None:
    rid = _request(store)
    r = store.transition(
        rid, expect=[Status.PENDING], to=Status.APPROVED, at=T0, decided_by="owner"
    )
    assert r.status is Status.APPROVED and r.decided_by == "owner"
    with pytest.raises(Conflict, match="approved"):
        store.transition(rid, expect=[Status.PENDING], to=Status.DENIED, at=T0)
    with pytest.raises(NotFound):
        store.transition(9999, expect=[Status.PENDING], to=Status.DENIED, at=T0)


def test_claim_next_gives_each_request_to_one_worker(store: SqlStore) -> None:
    ids = [_request(store) for _ in range(12)]
    for rid in ids:
        store.transition(rid, expect=[Status.PENDING], to=Status.APPROVED, at=T0)
    claimed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            r = store.claim_next(at=T0)
            if r is None:
                return
            with lock:
                claimed.append(r.id)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids
    assert all(store.get_request(i).status is Status.RUNNING for i in ids)
    assert all(store.get_request(i).attempts == 1 for i in ids)


def test_transaction_rolls_back_everything(store: SqlStore) -> None:
    rid = _request(store)
    ran: list[str] = []
    with pytest.raises(RuntimeError), store.transaction():
        store.transition(rid, expect=[Status.PENDING], to=Status.APPROVED, at=T0)
        store.add_member("zed", Role.ANALYST, at=T0)
        store.after_commit(lambda: ran.append("hook"))
        raise RuntimeError("boom")
    assert store.get_request(rid).status is Status.PENDING
    with pytest.raises(NotFound):
        store.get_member("zed")
    assert ran == []
    with store.transaction():
        store.after_commit(lambda: ran.append("hook"))
    assert ran == ["hook"]


def test_results_and_list_filters(store: SqlStore) -> None:
    a = _request(store, "ana")
    _request(store, "bob")
    store.put_result(Result(a, "ef" * 32, "application/json", 3, T0, {"x": 1}))
    assert store.get_result(a).receipt == {"x": 1}
    with pytest.raises(NotFound):
        store.get_result(a + 1)
    assert [r.id for r in store.list_requests(requester="ana")] == [a]
    assert len(store.list_requests(status=[Status.PENDING])) == 2


def test_policies(store: SqlStore) -> None:
    store.add_policy("p", {"kinds": ["dp_query"]}, by="owner", at=T0)
    with pytest.raises(AlreadyExists):
        store.add_policy("p", {}, by="owner", at=T0)
    assert store.list_policies()[0].rule == {"kinds": ["dp_query"]}
    store.delete_policy("p")
    with pytest.raises(NotFound):
        store.delete_policy("p")


def test_budget_caps_and_charges(store: SqlStore) -> None:
    store.add_dataset(_dataset())
    store.set_cap(BudgetCap("persons", "", 1.0, None, None, T0))
    store.set_cap(BudgetCap("persons", "", 2.0, None, None, T0))
    store.set_cap(BudgetCap("persons", "ana", 0.5, None, None, T0))
    assert {(c.analyst, c.rho) for c in store.caps("persons")} == {("", 2.0), ("ana", 0.5)}
    with store.transaction():
        store.lock_budget("persons")
        store.add_charge(Charge("persons", "ana", 1, 0.1, T0, 0.4, None, True))
    store.add_charge(Charge("persons", "bob", 2, 0.2, T0))
    assert [c.rho for c in store.charges(dataset="persons", analyst="ana")] == [0.1]
    assert len(store.charges()) == 2


def test_audit_appends_are_serialised(store: SqlStore) -> None:
    def make(prev: AuditRecord | None) -> AuditRecord:
        seq = 0 if prev is None else prev.seq + 1
        return AuditRecord(
            seq, "t", "a", "x", "s", {}, "p" if prev is None else prev.hash, f"h{seq}", "sig"
        )

    errors: list[BaseException] = []

    def append_five() -> None:
        try:
            for _ in range(5):
                store.append_audit(make)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=append_five) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    entries = list(store.audit_entries())
    assert [e.seq for e in entries] == list(range(20))
    assert all(e.prev_hash == entries[i - 1].hash for i, e in enumerate(entries) if i)
    assert [e.seq for e in store.audit_entries(after=17)] == [18, 19]
