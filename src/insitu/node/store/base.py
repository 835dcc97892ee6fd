"""The storage contract every node store implements.

Services hold the logic; a store only keeps records. Every implementation
runs the same contract suite (``tests/store``) on SQLite and PostgreSQL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

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


class Store(ABC):
    """Durable records of one node.

    Calls made inside one ``transaction()`` block MUST commit together or not
    at all. A call made outside any block MUST run in its own transaction.
    Two concurrent write transactions MUST NOT interleave on the rows they
    both touch (budget charges and audit appends are serialised).
    """

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Open a write transaction (nested calls join the outer one)."""

    @abstractmethod
    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current transaction commits (at once outside one).

        MUST NOT run ``fn`` when the transaction rolls back.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- members and tokens ---------------------------------------------
    @abstractmethod
    def add_member(self, name: str, role: Role, *, at: datetime) -> Member:
        """Create a member. MUST raise ``AlreadyExists`` for a taken name."""

    @abstractmethod
    def get_member(self, name: str) -> Member:
        """MUST raise ``NotFound`` for an unknown name."""

    @abstractmethod
    def list_members(self) -> list[Member]: ...

    @abstractmethod
    def add_token(
        self, member: str, token_hash: str, *, label: str, at: datetime, expires_at: datetime | None
    ) -> TokenInfo: ...

    @abstractmethod
    def member_for_token(self, token_hash: str, *, now: datetime) -> Member | None:
        """The member holding a live token. MUST return None for an unknown,
        expired or revoked token, or a disabled member."""

    @abstractmethod
    def list_tokens(self, member: str) -> list[TokenInfo]: ...

    @abstractmethod
    def revoke_tokens(self, member: str, *, at: datetime, token_id: int | None = None) -> int:
        """Revoke one or all live tokens of ``member``; returns how many."""

    # -- datasets ---------------------------------------------------------
    @abstractmethod
    def add_dataset(self, dataset: Dataset) -> None:
        """MUST raise ``AlreadyExists`` for a taken name."""

    @abstractmethod
    def get_dataset(self, name: str) -> Dataset:
        """MUST raise ``NotFound`` for an unknown name."""

    @abstractmethod
    def list_datasets(self) -> list[Dataset]: ...

    @abstractmethod
    def delete_dataset(self, name: str) -> None: ...

    # -- requests and results ---------------------------------------------
    @abstractmethod
    def add_request(self, new: NewRequest, *, at: datetime) -> Request:
        """Store a new request in status ``pending``."""

    @abstractmethod
    def get_request(self, request_id: int) -> Request:
        """MUST raise ``NotFound`` for an unknown id."""

    @abstractmethod
    def list_requests(
        self, *, status: Sequence[Status] | None = None, requester: str | None = None
    ) -> list[Request]: ...

    @abstractmethod
    def transition(
        self, request_id: int, *, expect: Sequence[Status], to: Status, at: datetime, **fields: Any
    ) -> Request:
        """Move a request to ``to`` only if its status is in ``expect``.

        MUST raise ``Conflict`` (naming the current status) otherwise, so two
        callers can never both make the same move.
        """

    @abstractmethod
    def claim_next(self, *, at: datetime) -> Request | None:
        """Atomically move the oldest ``approved`` request to ``running``."""

    @abstractmethod
    def put_result(self, result: Result) -> None: ...

    @abstractmethod
    def get_result(self, request_id: int) -> Result:
        """MUST raise ``NotFound`` when the request has no stored result."""

    # -- policies ----------------------------------------------------------
    @abstractmethod
    def add_policy(self, name: str, rule: dict[str, Any], *, by: str, at: datetime) -> Policy: ...

    @abstractmethod
    def list_policies(self) -> list[Policy]: ...

    @abstractmethod
    def delete_policy(self, name: str) -> None: ...

    # -- privacy budgets ------------------------------------------------------
    @abstractmethod
    def set_cap(self, cap: BudgetCap) -> None:
        """Create or replace the cap for (dataset, analyst)."""

    @abstractmethod
    def caps(self, dataset: str | None = None) -> list[BudgetCap]: ...

    @abstractmethod
    def lock_budget(self, dataset: str) -> None:
        """Inside a transaction: serialise charges to ``dataset`` until commit."""

    @abstractmethod
    def add_charge(self, charge: Charge) -> None: ...

    @abstractmethod
    def charges(
        self, *, dataset: str | None = None, analyst: str | None = None
    ) -> list[Charge]: ...

    # -- audit ---------------------------------------------------------------
    @abstractmethod
    def append_audit(self, make: Callable[[AuditRecord | None], AuditRecord]) -> AuditRecord:
        """Append ``make(newest entry)``; appends MUST be serialised so the
        sequence has no gaps and each entry chains to the one before."""

    @abstractmethod
    def audit_entries(self, *, after: int = -1, limit: int | None = None) -> Iterator[AuditRecord]:
        """Entries in sequence order, starting after seq ``after``."""
