"""One party's state of a collaboration, as pure transitions the node stores.

States::

    proposed ──approve(me)──▶ approved_local ──approve(last)──▶ ready ──start──▶ running
        │  (others' approvals are recorded in any order; when the last    │
        │   approval arrives the job is ready)                            ├─finish──▶ done
        ├─deny(any party)──▶ denied (reason carried to every party)       ├─fail────▶ failed
        └─cancel / expire from any live state ──▶ cancelled / timed_out   ├─cancel──▶ cancelled
                                                                          └─expire──▶ timed_out

Every method returns a new :class:`Job` or raises :class:`~insitu.errors.Conflict`
when the current state does not allow it; nothing reads a clock (``now`` is a
parameter, Unix seconds). The node stores the returned job, its budget ledger
change and an audit entry in one transaction.

Release and budget (write-ahead rules the node follows):

* :meth:`Job.start` reserves the budget of this party's input datasets
  (``budget`` = ``reserved``). The node stores ``running`` *before* it sends
  any protocol message.
* :meth:`Job.record_release` marks the point after which another party may
  learn an output derived from this party's data (before sending a party's
  last share, or before a result party reveals the output). The node stores
  it *before* that message leaves, so a crash can only over-charge, never
  release uncharged.
* A job that ends ``done``, or ends otherwise after its release point, has its
  budget ``charged``; one that ends before its release point has it
  ``refunded``. Hence no budget is charged for a job that released nothing.
* :meth:`Job.record_release` may happen once, and a job never goes back to
  ``running``, so no result is released twice.

Recovery after a restart (:meth:`Job.recover`): ``proposed``/``approved_local``
resume waiting for approvals (re-send this party's decision; peers ignore a
repeat); ``ready`` starts (nothing was sent yet); ``running`` fails cleanly,
because the protocol's in-memory state (masks, shares) is lost and re-running
it with fresh randomness could show peers two sharings of one input — the
budget is refunded if the release point was not reached and stays charged if
it was; terminal states need nothing; any live job past its deadline times out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from insitu.errors import Conflict, InvalidInput
from insitu.federation.spec import CollaborationSpec


class JobState(StrEnum):
    """Where one party's view of a collaboration stands."""

    PROPOSED = "proposed"
    APPROVED_LOCAL = "approved_local"
    READY = "ready"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    DENIED = "denied"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.TIMED_OUT, JobState.DENIED}
)
_DECIDING = frozenset({JobState.PROPOSED, JobState.APPROVED_LOCAL})


class BudgetState(StrEnum):
    """What the node's ledger must hold for this party's input datasets."""

    NONE = "none"
    RESERVED = "reserved"
    CHARGED = "charged"
    REFUNDED = "refunded"


class RecoveryAction(StrEnum):
    """What a restarted node does with a job, as returned by :meth:`Job.recover`."""

    AWAIT_APPROVALS = "await_approvals"
    START = "start"
    NONE = "none"


@dataclass(frozen=True)
class Job:
    """Immutable per-party record of a collaboration; transitions return new records."""

    collab_id: str
    spec_hash: str
    me: str
    parties: tuple[str, ...]
    deadline: float
    state: JobState = JobState.PROPOSED
    approved: frozenset[str] = field(default_factory=frozenset)
    ended_by: str | None = None
    reason: str | None = None
    released: bool = False
    budget: BudgetState = BudgetState.NONE
    result_sha256: str | None = None

    @classmethod
    def propose(cls, spec: CollaborationSpec, *, me: str, now: float) -> Job:
        """A new job for party ``me``; its deadline is ``now + spec.timeout_seconds``."""
        if me not in spec.party_names:
            raise InvalidInput(f"{me!r} is not a party of collaboration {spec.collab_id!r}")
        return cls(
            collab_id=spec.collab_id,
            spec_hash=spec.spec_hash(),
            me=me,
            parties=spec.party_names,
            deadline=now + spec.timeout_seconds,
        )

    def overdue(self, now: float) -> bool:
        """Whether the deadline has passed for a job that is still live."""
        return not self.state.terminal and now >= self.deadline

    def approve(self, party: str, *, now: float) -> Job:
        """Record ``party``'s approval; a repeat of a recorded approval changes nothing."""
        self._check_party(party)
        if party in self.approved and not self.state.terminal:
            return self
        self._require(_DECIDING, "approve")
        self._require_in_time(now, "approve")
        approved = self.approved | {party}
        if approved == frozenset(self.parties):
            state = JobState.READY
        elif self.me in approved:
            state = JobState.APPROVED_LOCAL
        else:
            state = JobState.PROPOSED
        return replace(self, approved=approved, state=state)

    def deny(self, party: str, *, reason: str) -> Job:
        """``party`` refuses the job (this node's owner, or a peer's notice); ends it."""
        self._check_party(party)
        self._require(_DECIDING, "deny")
        if party in self.approved:
            raise Conflict(f"{party!r} already approved; cancel the job instead")
        return replace(self, state=JobState.DENIED, ended_by=party, reason=_reason(reason))

    def start(self, *, now: float) -> Job:
        """``ready`` → ``running``; reserves the budget."""
        self._require({JobState.READY}, "start")
        self._require_in_time(now, "start")
        return replace(self, state=JobState.RUNNING, budget=BudgetState.RESERVED)

    def record_release(self) -> Job:
        """Mark the release point (store before the releasing message leaves); once only."""
        self._require({JobState.RUNNING}, "record a release")
        if self.released:
            raise Conflict(f"collaboration {self.collab_id!r} already passed its release point")
        return replace(self, released=True)

    def finish(self, *, result_sha256: str | None = None) -> Job:
        """``running`` → ``done``; the budget is charged.

        ``result_sha256`` is the hash of the output this party received
        (result parties) or ``None`` (parties that receive nothing).
        """
        self._require({JobState.RUNNING}, "finish")
        return replace(
            self,
            state=JobState.DONE,
            released=True,
            budget=BudgetState.CHARGED,
            result_sha256=result_sha256,
        )

    def fail(self, *, reason: str) -> Job:
        """``ready``/``running`` → ``failed``; budget charged only past the release point."""
        self._require({JobState.READY, JobState.RUNNING}, "fail")
        return self._end(JobState.FAILED, reason)

    def cancel(self, *, by: str, reason: str) -> Job:
        """Any live state → ``cancelled`` (by an owner of any party)."""
        self._check_party(by)
        self._require(_LIVE, "cancel")
        return replace(self._end(JobState.CANCELLED, reason), ended_by=by)

    def expire(self, *, now: float) -> Job:
        """A live job past its deadline → ``timed_out``."""
        self._require(_LIVE, "time out")
        if now < self.deadline:
            raise Conflict(f"collaboration {self.collab_id!r} is not past its deadline")
        return self._end(JobState.TIMED_OUT, "deadline passed")

    def recover(self, *, now: float) -> tuple[Job, RecoveryAction]:
        """What a restarted node does: the job to store and the action to take."""
        if self.overdue(now):
            return self.expire(now=now), RecoveryAction.NONE
        if self.state in _DECIDING:
            return self, RecoveryAction.AWAIT_APPROVALS
        if self.state is JobState.READY:
            return self, RecoveryAction.START
        if self.state is JobState.RUNNING:
            return self.fail(reason="node restarted while the protocol ran"), RecoveryAction.NONE
        return self, RecoveryAction.NONE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data for storage."""
        return {
            "collab_id": self.collab_id,
            "spec_hash": self.spec_hash,
            "me": self.me,
            "parties": list(self.parties),
            "deadline": self.deadline,
            "state": self.state.value,
            "approved": sorted(self.approved),
            "ended_by": self.ended_by,
            "reason": self.reason,
            "released": self.released,
            "budget": self.budget.value,
            "result_sha256": self.result_sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        """Inverse of :meth:`to_dict`."""
        return cls(
            collab_id=data["collab_id"],
            spec_hash=data["spec_hash"],
            me=data["me"],
            parties=tuple(data["parties"]),
            deadline=float(data["deadline"]),
            state=JobState(data["state"]),
            approved=frozenset(data["approved"]),
            ended_by=data["ended_by"],
            reason=data["reason"],
            released=bool(data["released"]),
            budget=BudgetState(data["budget"]),
            result_sha256=data["result_sha256"],
        )

    def _end(self, state: JobState, reason: str) -> Job:
        budget = self.budget
        if budget is BudgetState.RESERVED:
            budget = BudgetState.CHARGED if self.released else BudgetState.REFUNDED
        return replace(self, state=state, reason=_reason(reason), budget=budget)

    def _require(self, allowed: frozenset[JobState] | set[JobState], action: str) -> None:
        if self.state not in allowed:
            raise Conflict(
                f"cannot {action} collaboration {self.collab_id!r} in state {self.state.value!r}"
            )

    def _require_in_time(self, now: float, action: str) -> None:
        if now >= self.deadline:
            raise Conflict(f"cannot {action} collaboration {self.collab_id!r}: deadline passed")

    def _check_party(self, party: str) -> None:
        if party not in self.parties:
            raise InvalidInput(f"{party!r} is not a party of collaboration {self.collab_id!r}")


_LIVE = frozenset({JobState.PROPOSED, JobState.APPROVED_LOCAL, JobState.READY, JobState.RUNNING})


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required")
    return reason[:1000]


__all__ = ["BudgetState", "Job", "JobState", "RecoveryAction"]
