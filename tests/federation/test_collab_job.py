"""The per-party job state machine: transitions, conflicts, deadlines, budget and recovery."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.crypto.signing import SigningKey
from insitu.errors import Conflict, InvalidInput
from insitu.federation.job import BudgetState, Job, JobState, RecoveryAction
from insitu.federation.spec import CollaborationSpec

NAMES = ("a", "b", "c")
SPEC = CollaborationSpec.parse(
    {
        "collab_id": "job-test",
        "computation": "secure_count",
        "parties": [
            {
                "name": n,
                "url": f"https://{n}.example",
                "public_key": SigningKey.generate().public_key.to_text(),
                "roles": ["input", "computing", "result"],
                "datasets": ["d"],
            }
            for n in NAMES
        ],
        "privacy_costs": [{"party": n, "dataset": "d", "epsilon": 1.0} for n in NAMES],
        "result_parties": list(NAMES),
        "timeout_seconds": 100,
    }
)
T0 = 1000.0


def proposed() -> Job:
    return Job.propose(SPEC, me="a", now=T0)


def ready() -> Job:
    job = proposed()
    for name in NAMES:
        job = job.approve(name, now=T0 + 1)
    return job


def running() -> Job:
    return ready().start(now=T0 + 2)


def test_happy_path() -> None:
    job = proposed()
    assert job.state is JobState.PROPOSED and job.deadline == T0 + 100
    assert job.spec_hash == SPEC.spec_hash()
    job = job.approve("a", now=T0)
    assert job.state is JobState.APPROVED_LOCAL
    job = job.approve("b", now=T0).approve("c", now=T0)
    assert job.state is JobState.READY
    job = job.start(now=T0 + 5)
    assert (job.state, job.budget, job.released) == (JobState.RUNNING, BudgetState.RESERVED, False)
    job = job.record_release()
    job = job.finish(result_sha256="ab" * 32)
    assert (job.state, job.budget) == (JobState.DONE, BudgetState.CHARGED)
    assert job.result_sha256 == "ab" * 32


@settings(deadline=None)
@given(st.permutations(NAMES))
def test_ready_exactly_when_the_last_party_approved(order: list[str]) -> None:
    job = proposed()
    for i, name in enumerate(order):
        job = job.approve(name, now=T0)
        if i < len(order) - 1:
            expected = JobState.APPROVED_LOCAL if "a" in order[: i + 1] else JobState.PROPOSED
            assert job.state is expected
    assert job.state is JobState.READY
    assert job.approved == frozenset(NAMES)


def test_a_repeated_approval_changes_nothing() -> None:
    job = proposed().approve("b", now=T0)
    assert job.approve("b", now=T0 + 1) is job
    assert ready().approve("b", now=T0 + 1).state is JobState.READY


def test_denial_by_any_party_ends_the_job_with_its_reason() -> None:
    job = proposed().approve("a", now=T0).deny("c", reason="  not this quarter ")
    assert (job.state, job.ended_by, job.reason) == (JobState.DENIED, "c", "not this quarter")
    with pytest.raises(Conflict):
        job.approve("b", now=T0)


def test_a_party_that_approved_cannot_deny() -> None:
    with pytest.raises(Conflict, match="cancel the job instead"):
        proposed().approve("b", now=T0).deny("b", reason="changed my mind")


WRONG_STATE: list[tuple[str, Callable[[], Job], Callable[[Job], Job]]] = [
    ("start before ready", proposed, lambda j: j.start(now=T0)),
    ("start twice", running, lambda j: j.start(now=T0)),
    ("release before running", ready, lambda j: j.record_release()),
    ("release twice", lambda: running().record_release(), lambda j: j.record_release()),
    ("finish before running", ready, lambda j: j.finish()),
    ("finish twice", lambda: running().finish(), lambda j: j.finish()),
    ("fail while proposed", proposed, lambda j: j.fail(reason="x")),
    ("deny when ready", ready, lambda j: j.deny("b", reason="x")),
    ("deny when running", running, lambda j: j.deny("b", reason="x")),
    ("cancel when done", lambda: running().finish(), lambda j: j.cancel(by="a", reason="x")),
    ("expire when failed", lambda: running().fail(reason="x"), lambda j: j.expire(now=T0 + 500)),
    (
        "approve after denial",
        lambda: proposed().deny("b", reason="x"),
        lambda j: j.approve("c", now=T0),
    ),
]


@pytest.mark.parametrize(("what", "make", "act"), WRONG_STATE, ids=[w[0] for w in WRONG_STATE])
def test_transitions_from_the_wrong_state_conflict(
    what: str, make: Callable[[], Job], act: Callable[[Job], Job]
) -> None:
    with pytest.raises(Conflict):
        act(make())


def test_unknown_parties_and_empty_reasons_are_invalid() -> None:
    with pytest.raises(InvalidInput):
        proposed().approve("z", now=T0)
    with pytest.raises(InvalidInput):
        proposed().deny("a", reason="   ")
    with pytest.raises(InvalidInput):
        Job.propose(SPEC, me="z", now=T0)


def test_deadline_blocks_approval_and_start_and_allows_expiry() -> None:
    late = T0 + 100
    with pytest.raises(Conflict, match="deadline passed"):
        proposed().approve("a", now=late)
    with pytest.raises(Conflict, match="deadline passed"):
        ready().start(now=late)
    with pytest.raises(Conflict, match="not past its deadline"):
        proposed().expire(now=late - 1)
    assert not proposed().overdue(late - 1) and proposed().overdue(late)
    assert proposed().expire(now=late).state is JobState.TIMED_OUT
    assert not running().finish().overdue(late + 10)


@pytest.mark.parametrize(
    ("end", "released", "budget"),
    [
        (lambda j: j.fail(reason="peer vanished"), False, BudgetState.REFUNDED),
        (lambda j: j.fail(reason="peer vanished"), True, BudgetState.CHARGED),
        (lambda j: j.cancel(by="b", reason="stop"), False, BudgetState.REFUNDED),
        (lambda j: j.cancel(by="b", reason="stop"), True, BudgetState.CHARGED),
        (lambda j: j.expire(now=T0 + 100), False, BudgetState.REFUNDED),
        (lambda j: j.expire(now=T0 + 100), True, BudgetState.CHARGED),
    ],
)
def test_budget_is_charged_only_past_the_release_point(
    end: Callable[[Job], Job], released: bool, budget: BudgetState
) -> None:
    job = running()
    if released:
        job = job.record_release()
    assert end(job).budget is budget


def test_ending_before_start_touches_no_budget() -> None:
    assert ready().fail(reason="x").budget is BudgetState.NONE
    assert proposed().cancel(by="a", reason="x").budget is BudgetState.NONE
    assert proposed().deny("b", reason="x").budget is BudgetState.NONE


@pytest.mark.parametrize(
    ("make", "state", "action", "budget"),
    [
        (proposed, JobState.PROPOSED, RecoveryAction.AWAIT_APPROVALS, BudgetState.NONE),
        (lambda: proposed().approve("a", now=T0), JobState.APPROVED_LOCAL,
         RecoveryAction.AWAIT_APPROVALS, BudgetState.NONE),
        (ready, JobState.READY, RecoveryAction.START, BudgetState.NONE),
        (running, JobState.FAILED, RecoveryAction.NONE, BudgetState.REFUNDED),
        (lambda: running().record_release(), JobState.FAILED, RecoveryAction.NONE,
         BudgetState.CHARGED),
        (lambda: running().finish(), JobState.DONE, RecoveryAction.NONE, BudgetState.CHARGED),
        (lambda: proposed().deny("b", reason="x"), JobState.DENIED, RecoveryAction.NONE,
         BudgetState.NONE),
    ],
)  # fmt: skip
def test_recovery_after_restart(
    make: Callable[[], Job], state: JobState, action: RecoveryAction, budget: BudgetState
) -> None:
    job, todo = make().recover(now=T0 + 50)
    assert (job.state, todo, job.budget) == (state, action, budget)


def test_recovery_of_an_overdue_live_job_times_it_out() -> None:
    job, todo = ready().recover(now=T0 + 200)
    assert (job.state, todo) == (JobState.TIMED_OUT, RecoveryAction.NONE)


def test_a_recovered_running_job_never_runs_or_releases_again() -> None:
    job, _ = running().record_release().recover(now=T0 + 50)
    for act in (lambda j: j.start(now=T0), lambda j: j.record_release(), lambda j: j.finish()):
        with pytest.raises(Conflict):
            act(job)


@pytest.mark.parametrize(
    "make", [proposed, ready, running, lambda: running().record_release().fail(reason="x")]
)
def test_jobs_round_trip_through_plain_data(make: Callable[[], Job]) -> None:
    job = make()
    assert Job.from_dict(job.to_dict()) == job


ACTIONS: dict[str, Callable[[Job], Job]] = {
    "approve_a": lambda j: j.approve("a", now=T0 + 1),
    "approve_b": lambda j: j.approve("b", now=T0 + 1),
    "approve_c": lambda j: j.approve("c", now=T0 + 1),
    "deny_b": lambda j: j.deny("b", reason="no"),
    "start": lambda j: j.start(now=T0 + 2),
    "release": lambda j: j.record_release(),
    "finish": lambda j: j.finish(),
    "fail": lambda j: j.fail(reason="broke"),
    "cancel": lambda j: j.cancel(by="c", reason="stop"),
    "expire": lambda j: j.expire(now=T0 + 100),
    "restart": lambda j: j.recover(now=T0 + 3)[0],
}


@settings(deadline=None)
@given(st.lists(st.sampled_from(sorted(ACTIONS)), max_size=30))
def test_invariants_hold_for_any_sequence_of_actions(actions: list[str]) -> None:
    job = proposed()
    releases = 0
    for name in actions:
        before = job
        try:
            job = ACTIONS[name](job)
        except Conflict:
            assert job is before
            continue
        releases += job.released and not before.released
        if before.state.terminal:
            assert job == before  # terminal states are absorbing
        if job.state is JobState.RUNNING:
            assert before.state in (JobState.READY, JobState.RUNNING)
        if job.budget is BudgetState.CHARGED:
            assert job.released  # never charged for a job that released nothing
        if job.state.terminal and before.budget is BudgetState.RESERVED:
            assert job.budget in (BudgetState.CHARGED, BudgetState.REFUNDED)
    assert releases <= 1  # never released twice
