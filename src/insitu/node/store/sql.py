"""The SQLAlchemy store: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from insitu.errors import AlreadyExists, Conflict, NotFound
from insitu.node.db.engine import WRITE_OPTION
from insitu.node.db.schema import (
    AuditHeadRow,
    AuditRow,
    BudgetCapRow,
    DatasetRow,
    LedgerRow,
    MemberRow,
    PolicyRow,
    RequestRow,
    ResultRow,
    TokenRow,
)
from insitu.node.store.base import Store
from insitu.node.store.records import (
    AuditRecord,
    BudgetCap,
    Charge,
    Dataset,
    Member,
    NewRequest,
    Policy,
    Request,
    Result,
    Role,
    Status,
    TokenInfo,
)

T = TypeVar("T")

_REQUEST_BY_ID = select(RequestRow.__table__).where(RequestRow.__table__.c.id == bindparam("rid"))


def _utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every datetime leaving the store is UTC-aware."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _member(row: MemberRow) -> Member:
    return Member(
        row.id, row.name, Role(row.role), _utc(row.created_at) or row.created_at, row.disabled
    )


def _request(row: Any) -> Request:
    """From a ``RequestRow`` or a Core row of the requests table."""
    return Request(
        id=row.id,
        kind=row.kind,
        requester=row.requester,
        description=row.description,
        datasets=list(row.datasets),
        payload=dict(row.payload),
        payload_hash=row.payload_hash,
        cost=row.cost,
        status=Status(row.status),
        reason=row.reason,
        output_checking=row.output_checking,
        created_at=_utc(row.created_at) or row.created_at,
        updated_at=_utc(row.updated_at) or row.updated_at,
        decided_by=row.decided_by,
        decided_at=_utc(row.decided_at),
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        released_by=row.released_by,
        released_at=_utc(row.released_at),
        attempts=row.attempts,
    )


def _dataset(row: DatasetRow) -> Dataset:
    return Dataset(
        row.name,
        dict(row.card),
        row.file,
        row.content_hash,
        row.rows,
        row.size,
        _utc(row.created_at) or row.created_at,
        row.created_by,
    )


def _token(row: TokenRow, member: str) -> TokenInfo:
    return TokenInfo(
        row.id,
        member,
        row.label,
        _utc(row.created_at) or row.created_at,
        _utc(row.expires_at),
        _utc(row.revoked_at),
    )


def _audit(row: AuditRow) -> AuditRecord:
    return AuditRecord(
        row.seq,
        row.at,
        row.actor,
        row.action,
        row.subject,
        dict(row.data),
        row.prev_hash,
        row.hash,
        row.signature,
    )


class SqlStore(Store):
    """Store on any SQLAlchemy engine made by :func:`insitu.node.db.engine.make_engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._current: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
            f"insitu_session_{id(self)}", default=None
        )
        self.postgres = engine.dialect.name == "postgresql"
        self._hooks: contextvars.ContextVar[list[Callable[[], None]] | None] = (
            contextvars.ContextVar(f"insitu_hooks_{id(self)}", default=None)
        )

    # -- sessions ---------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._current.get() is not None:
            yield
            return
        hooks: list[Callable[[], None]] = []
        with Session(self._writer, expire_on_commit=False) as session:
            token = self._current.set(session)
            hooks_token = self._hooks.set(hooks)
            try:
                with session.begin():
                    yield
            finally:
                self._current.reset(token)
                self._hooks.reset(hooks_token)
        for fn in hooks:
            fn()

    def after_commit(self, fn: Callable[[], None]) -> None:
        hooks = self._hooks.get()
        if hooks is None:
            fn()
        else:
            hooks.append(fn)

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        current = self._current.get()
        if current is not None:
            yield current
            return
        if write:
            with self.transaction():
                current = self._current.get()
                assert current is not None
                yield current
            return
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            token = self._current.set(session)
            try:
                yield session
            finally:
                self._current.reset(token)

    def _run(self, fn: Callable[[Session], T], *, write: bool = False) -> T:
        with self._session(write=write) as s:
            return fn(s)

    def close(self) -> None:
        self.engine.dispose()

    # -- members and tokens -----------------------------------------------
    def add_member(self, name: str, role: Role, *, at: datetime) -> Member:
        def go(s: Session) -> Member:
            if s.scalar(select(MemberRow).where(MemberRow.name == name)) is not None:
                raise AlreadyExists(f"member {name!r} already exists")
            row = MemberRow(name=name, role=role.value, created_at=at, disabled=False)
            s.add(row)
            s.flush()
            return _member(row)

        return self._run(go, write=True)

    def _member_row(self, s: Session, name: str) -> MemberRow:
        row = s.scalar(select(MemberRow).where(MemberRow.name == name))
        if row is None:
            raise NotFound(f"no member called {name!r}")
        return row

    def get_member(self, name: str) -> Member:
        return self._run(lambda s: _member(self._member_row(s, name)))

    def list_members(self) -> list[Member]:
        return self._run(
            lambda s: [_member(r) for r in s.scalars(select(MemberRow).order_by(MemberRow.id))]
        )

    def add_token(
        self, member: str, token_hash: str, *, label: str, at: datetime, expires_at: datetime | None
    ) -> TokenInfo:
        def go(s: Session) -> TokenInfo:
            m = self._member_row(s, member)
            row = TokenRow(
                member_id=m.id,
                token_hash=token_hash,
                label=label,
                created_at=at,
                expires_at=expires_at,
                revoked_at=None,
            )
            s.add(row)
            s.flush()
            return _token(row, member)

        return self._run(go, write=True)

    def member_for_token(self, token_hash: str, *, now: datetime) -> Member | None:
        def go(s: Session) -> Member | None:
            found = s.execute(
                select(TokenRow, MemberRow)
                .join(MemberRow, MemberRow.id == TokenRow.member_id)
                .where(TokenRow.token_hash == token_hash)
            ).first()
            if found is None:
                return None
            token, member = found
            expires = _utc(token.expires_at)
            if token.revoked_at is not None or member.disabled or (expires and expires <= now):
                return None
            return _member(member)

        return self._run(go)

    def list_tokens(self, member: str) -> list[TokenInfo]:
        def go(s: Session) -> list[TokenInfo]:
            m = self._member_row(s, member)
            rows = s.scalars(
                select(TokenRow).where(TokenRow.member_id == m.id).order_by(TokenRow.id)
            )
            return [_token(r, member) for r in rows]

        return self._run(go)

    def revoke_tokens(self, member: str, *, at: datetime, token_id: int | None = None) -> int:
        def go(s: Session) -> int:
            m = self._member_row(s, member)
            q = update(TokenRow).where(TokenRow.member_id == m.id, TokenRow.revoked_at.is_(None))
            if token_id is not None:
                q = q.where(TokenRow.id == token_id)
            return int(s.execute(q.values(revoked_at=at)).rowcount)  # type: ignore[attr-defined]

        return self._run(go, write=True)

    # -- datasets ------------------------------------------------------------
    def add_dataset(self, dataset: Dataset) -> None:
        def go(s: Session) -> None:
            if s.scalar(select(DatasetRow.id).where(DatasetRow.name == dataset.name)) is not None:
                raise AlreadyExists(f"dataset {dataset.name!r} already exists")
            s.add(DatasetRow(**asdict(dataset)))
            s.flush()

        self._run(go, write=True)

    def get_dataset(self, name: str) -> Dataset:
        def go(s: Session) -> Dataset:
            row = s.scalar(select(DatasetRow).where(DatasetRow.name == name))
            if row is None:
                raise NotFound(f"no dataset called {name!r}")
            return _dataset(row)

        return self._run(go)

    def list_datasets(self) -> list[Dataset]:
        return self._run(
            lambda s: [_dataset(r) for r in s.scalars(select(DatasetRow).order_by(DatasetRow.name))]
        )

    def delete_dataset(self, name: str) -> None:
        def go(s: Session) -> None:
            if s.execute(delete(DatasetRow).where(DatasetRow.name == name)).rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no dataset called {name!r}")

        self._run(go, write=True)

    # -- requests and results ----------------------------------------------
    def add_request(self, new: NewRequest, *, at: datetime) -> Request:
        def go(s: Session) -> Request:
            row = RequestRow(
                **asdict(new),
                status=Status.PENDING.value,
                reason="",
                output_checking=True,
                created_at=at,
                updated_at=at,
                attempts=0,
            )
            s.add(row)
            s.flush()
            return _request(row)

        return self._run(go, write=True)

    def get_request(self, request_id: int) -> Request:
        if self._current.get() is None:
            # The hot path of status polling: one Core statement, no ORM session.
            with self.engine.connect() as conn:
                found = conn.execute(_REQUEST_BY_ID, {"rid": request_id}).first()
            if found is None:
                raise NotFound(f"no request {request_id}")
            return _request(found)  # a Core row has the same attribute names

        def go(s: Session) -> Request:
            row = s.get(RequestRow, request_id)
            if row is None:
                raise NotFound(f"no request {request_id}")
            return _request(row)

        return self._run(go)

    def list_requests(
        self, *, status: Sequence[Status] | None = None, requester: str | None = None
    ) -> list[Request]:
        q = select(RequestRow).order_by(RequestRow.id)
        if status is not None:
            q = q.where(RequestRow.status.in_([s.value for s in status]))
        if requester is not None:
            q = q.where(RequestRow.requester == requester)
        return self._run(lambda s: [_request(r) for r in s.scalars(q)])

    def transition(
        self, request_id: int, *, expect: Sequence[Status], to: Status, at: datetime, **fields: Any
    ) -> Request:
        def go(s: Session) -> Request:
            done = s.execute(
                update(RequestRow)
                .where(
                    RequestRow.id == request_id, RequestRow.status.in_([e.value for e in expect])
                )
                .values(status=to.value, updated_at=at, **fields)
            ).rowcount  # type: ignore[attr-defined]
            row = s.get(RequestRow, request_id, populate_existing=True)
            if row is None:
                raise NotFound(f"no request {request_id}")
            if done == 0:
                raise Conflict(f"request {request_id} is {row.status}, not {'/'.join(expect)}")
            return _request(row)

        return self._run(go, write=True)

    def claim_next(self, *, at: datetime) -> Request | None:
        def go(s: Session) -> Request | None:
            q = (
                select(RequestRow.id)
                .where(RequestRow.status == Status.APPROVED.value)
                .order_by(RequestRow.id)
                .limit(1)
            )
            if self.postgres:
                q = q.with_for_update(skip_locked=True)
            rid = s.scalar(q)
            if rid is None:
                return None
            return self.transition(
                rid,
                expect=[Status.APPROVED],
                to=Status.RUNNING,
                at=at,
                started_at=at,
                attempts=RequestRow.attempts + 1,
            )

        return self._run(go, write=True)

    def put_result(self, result: Result) -> None:
        self._run(lambda s: s.merge(ResultRow(**asdict(result))), write=True)

    def get_result(self, request_id: int) -> Result:
        def go(s: Session) -> Result:
            row = s.get(ResultRow, request_id)
            if row is None:
                raise NotFound(f"request {request_id} has no result")
            return Result(
                row.request_id,
                row.content_hash,
                row.media_type,
                row.size,
                _utc(row.created_at) or row.created_at,
                dict(row.receipt),
            )

        return self._run(go)

    # -- policies ------------------------------------------------------------
    def add_policy(self, name: str, rule: dict[str, Any], *, by: str, at: datetime) -> Policy:
        def go(s: Session) -> Policy:
            if s.scalar(select(PolicyRow.id).where(PolicyRow.name == name)) is not None:
                raise AlreadyExists(f"policy {name!r} already exists")
            row = PolicyRow(name=name, rule=rule, created_at=at, created_by=by)
            s.add(row)
            s.flush()
            return Policy(row.id, name, rule, at, by)

        return self._run(go, write=True)

    def list_policies(self) -> list[Policy]:
        def go(s: Session) -> list[Policy]:
            rows = s.scalars(select(PolicyRow).order_by(PolicyRow.id))
            return [
                Policy(r.id, r.name, dict(r.rule), _utc(r.created_at) or r.created_at, r.created_by)
                for r in rows
            ]

        return self._run(go)

    def delete_policy(self, name: str) -> None:
        def go(s: Session) -> None:
            if s.execute(delete(PolicyRow).where(PolicyRow.name == name)).rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no policy called {name!r}")

        self._run(go, write=True)

    # -- budgets -------------------------------------------------------------
    def set_cap(self, cap: BudgetCap) -> None:
        def go(s: Session) -> None:
            row = s.scalar(
                select(BudgetCapRow).where(
                    BudgetCapRow.dataset == cap.dataset, BudgetCapRow.analyst == cap.analyst
                )
            )
            if row is None:
                s.add(BudgetCapRow(**asdict(cap)))
            else:
                row.rho, row.epsilon, row.delta, row.updated_at = (
                    cap.rho,
                    cap.epsilon,
                    cap.delta,
                    cap.updated_at,
                )

        self._run(go, write=True)

    def caps(self, dataset: str | None = None) -> list[BudgetCap]:
        q = select(BudgetCapRow).order_by(BudgetCapRow.dataset, BudgetCapRow.analyst)
        if dataset is not None:
            q = q.where(BudgetCapRow.dataset == dataset)
        return self._run(
            lambda s: [
                BudgetCap(
                    r.dataset,
                    r.analyst,
                    r.rho,
                    r.epsilon,
                    r.delta,
                    _utc(r.updated_at) or r.updated_at,
                )
                for r in s.scalars(q)
            ]
        )

    def lock_budget(self, dataset: str) -> None:
        def go(s: Session) -> None:
            if self.postgres:
                s.execute(select(DatasetRow.id).where(DatasetRow.name == dataset).with_for_update())
                s.execute(select(func.pg_advisory_xact_lock(func.hashtext("budget:" + dataset))))

        self._run(go, write=True)

    def add_charge(self, charge: Charge) -> None:
        self._run(lambda s: s.add(LedgerRow(**asdict(charge))), write=True)

    def charges(self, *, dataset: str | None = None, analyst: str | None = None) -> list[Charge]:
        q = select(LedgerRow).order_by(LedgerRow.id)
        if dataset is not None:
            q = q.where(LedgerRow.dataset == dataset)
        if analyst is not None:
            q = q.where(LedgerRow.analyst == analyst)
        return self._run(
            lambda s: [
                Charge(
                    r.dataset,
                    r.analyst,
                    r.request_id,
                    r.rho,
                    _utc(r.at) or r.at,
                    r.epsilon,
                    r.delta,
                    r.pure,
                )
                for r in s.scalars(q)
            ]
        )

    # -- audit ---------------------------------------------------------------
    def append_audit(self, make: Callable[[AuditRecord | None], AuditRecord]) -> AuditRecord:
        def go(s: Session) -> AuditRecord:
            head = self._locked_audit_head(s)
            prev = None
            if head.seq >= 0:
                prev_row = s.get(AuditRow, head.seq)
                prev = _audit(prev_row) if prev_row is not None else None
            entry = make(prev)
            s.add(AuditRow(**asdict(entry)))
            head.seq, head.hash = entry.seq, entry.hash
            s.flush()
            return entry

        return self._run(go, write=True)

    def _locked_audit_head(self, s: Session) -> AuditHeadRow:
        """The single head row, locked until commit; created (seq -1) on first use.

        Two first appends racing on PostgreSQL both find no row; the savepoint
        lets the loser of the insert fall back to locking the winner's row.
        """
        q = select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
        head = s.scalar(q)
        if head is None:
            with contextlib.suppress(IntegrityError), s.begin_nested():
                s.add(AuditHeadRow(id=1, seq=-1, hash=""))
            head = s.scalar(q.execution_options(populate_existing=True))
        assert head is not None
        return head

    def audit_entries(self, *, after: int = -1, limit: int | None = None) -> Iterator[AuditRecord]:
        q = select(AuditRow).where(AuditRow.seq > after).order_by(AuditRow.seq)
        if limit is not None:
            q = q.limit(limit)
        return iter(self._run(lambda s: [_audit(r) for r in s.scalars(q)]))

    # -- shared sessions ---------------------------------------------------------
    def session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        """The current transaction's session, or a new one (for stores kept beside this one)."""
        return self._session(write=write)

    @contextmanager
    def core(self, *, write: bool = False) -> Iterator[Connection | Session]:
        """Where to run Core statements: the current transaction's session, else a bare
        connection (a write one commits when the block ends; no ORM session is made).

        For hot paths of stores kept beside this one; hooks given to
        :meth:`after_commit` outside a transaction run at once, so call it after
        the block.
        """
        current = self._current.get()
        if current is not None:
            yield current
        elif write:
            with self._writer.begin() as conn:
                yield conn
        else:
            with self.engine.connect() as conn:
                yield conn
