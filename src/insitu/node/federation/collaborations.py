"""This node's side of collaborations: propose, receive, approve or deny its own part, cancel.

Each party keeps its own job (:class:`insitu.federation.job.Job`) in its own
database; every change is stored together with an audit entry (spec hash,
state, who) and with the notices to the other parties, which the outbox
delivers (:mod:`insitu.node.federation.outbox`) until they arrive or the
collaboration's deadline passes. Nothing runs until every party approved;
a denial, a cancel or an abort from any party ends it for all.

A part is approved by the owner, or at once when it arrives (or is proposed
here) by the first of the owner's collaboration policies that covers it
(:meth:`insitu.node.services.policies.Rule.matches_collaboration`); such an
approval is audited and sent to the other parties exactly like the owner's,
with the actor ``policy:<name>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from insitu.crypto.hashing import canonical_json, sha256_hex
from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import AlreadyExists, Conflict, Forbidden, InvalidInput, NotFound
from insitu.federation.job import Job, JobState
from insitu.federation.spec import CollaborationSpec, PrivacyCost, Role
from insitu.node.clock import Clock
from insitu.node.federation.computations import COMPUTATIONS
from insitu.node.federation.notices import PROPOSE_PATH, EventKind, events_path
from insitu.node.federation.peers import Peers
from insitu.node.federation.records import Collaboration, Peer
from insitu.node.federation.store import FederationStore
from insitu.node.services.audit_log import AuditLog
from insitu.node.services.policies import CollabPart, Policies
from insitu.node.store.base import Store

log = logging.getLogger("insitu.peers")

#: Notices stay deliverable this many seconds past a job's deadline (late aborts, denials).
NOTICE_GRACE_SECONDS = 60.0
_ACCEPTING = frozenset({JobState.APPROVED_LOCAL, JobState.READY, JobState.RUNNING})

Step = Callable[[Job, float], Job]


def _abort_step(party: str, reason: str) -> Step:
    def step(job: Job, _now: float) -> Job:
        if job.state in (JobState.READY, JobState.RUNNING):
            return job.fail(reason=reason)
        return job.cancel(by=party, reason=reason)

    return step


class Collaborations:
    """Collaboration parts of one node: the service behind the owner/analyst and peer routes."""

    def __init__(
        self,
        store: FederationStore,
        node_store: Store,
        audit: AuditLog,
        clock: Clock,
        key: SigningKey,
        peers: Peers,
        *,
        policies: Policies | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._policies = policies
        self._node_store = node_store
        self._audit = audit
        self._clock = clock
        self._key_text = key.public_key.to_text()
        self._peers = peers
        self.on_change = on_change

    # -- identity and checks ------------------------------------------------------
    def my_party(self, spec: CollaborationSpec) -> str:
        """This node's party name in ``spec`` (the party holding this node's key)."""
        for party in spec.parties:
            if party.public_key == self._key_text:
                return party.name
        raise InvalidInput("this node is not a party of the collaboration (no party has its key)")

    def _check(self, spec: CollaborationSpec, me: str) -> None:
        if spec.computation not in COMPUTATIONS:
            raise InvalidInput(
                f"unknown computation {spec.computation!r}; "
                f"known: {', '.join(sorted(COMPUTATIONS))}"
            )
        for party in spec.parties:
            if party.name != me:
                self._peers.require_active(party.public_key, party.url)

    def _party_of(self, spec: CollaborationSpec, signer: Peer) -> str:
        for party in spec.parties:
            if party.public_key == signer.public_key:
                return party.name
        raise Forbidden(f"peer {signer.name!r} is not a party of {spec.collab_id!r}")

    def _check_datasets(self, spec: CollaborationSpec, me: str) -> None:
        for dataset in spec.party(me).datasets:
            self._node_store.get_dataset(dataset)

    # -- proposing --------------------------------------------------------------------
    def propose(self, data: Any, *, by: str) -> Collaboration:
        """Store a new collaboration this node proposes and send its spec to every party."""
        spec = CollaborationSpec.parse(data)
        me = self.my_party(spec)
        self._check(spec, me)
        self._check_datasets(spec, me)
        policy = self._approving_policy(spec, me, proposer=by)
        now = self._clock()
        job = Job.propose(spec, me=me, now=now.timestamp())
        with self._store.sql.transaction():
            self._store.add_collab(spec, job, proposed_by=by, at=now)
            self._record(by, "collab.proposed", job, {"computation": spec.computation})
            body = {"spec": spec.to_json_value(), "proposed_by": by}
            self._send(spec, job, PROPOSE_PATH, body, now=now.timestamp())
            if policy is not None:
                self._approve(spec.collab_id, me, by=f"policy:{policy}")
        self.on_change()
        return self.get(spec.collab_id)

    def receive_proposal(self, body: Mapping[str, Any], *, signer: Peer) -> Collaboration:
        """A peer's proposal: check it names this node and registered peers only, then store it."""
        spec = CollaborationSpec.parse(body.get("spec"))
        proposed_by = str(body.get("proposed_by", ""))[:64] or "unknown"
        sender = self._party_of(spec, signer)
        me = self.my_party(spec)
        self._check(spec, me)
        existing = self._store.find_collab(spec.collab_id)
        if existing is None:
            proposer = f"peer:{signer.name}"
            policy = self._approving_policy(spec, me, proposer=proposer)
            now = self._clock()
            job = Job.propose(spec, me=me, now=now.timestamp())
            try:
                with self._store.sql.transaction():
                    self._store.add_collab(spec, job, proposed_by=f"{proposed_by}@{sender}", at=now)
                    self._record(
                        proposer,
                        "collab.received",
                        job,
                        {"computation": spec.computation, "from": sender},
                    )
                    if policy is not None:
                        self._approve(spec.collab_id, me, by=f"policy:{policy}")
            except AlreadyExists:
                pass
            existing = self._store.get_collab(spec.collab_id)
        if existing.job.spec_hash != spec.spec_hash():
            raise Conflict(f"collaboration {spec.collab_id!r} exists with another spec")
        self.on_change()
        return existing

    # -- this node's decisions --------------------------------------------------------
    def approve(self, collab_id: str, *, by: str) -> Collaboration:
        """The owner approves this node's part; the other parties are told."""
        c = self.get(collab_id)
        self._check_datasets(c.spec, c.job.me)
        return self._approve(collab_id, c.job.me, by=by)

    def _approve(self, collab_id: str, me: str, *, by: str) -> Collaboration:
        return self.change(
            collab_id,
            lambda job, now: job.approve(job.me, now=now),
            actor=by,
            action="collab.approved",
            data={"party": me},
            notify=EventKind.APPROVE,
        )

    def deny(self, collab_id: str, *, reason: str, by: str) -> Collaboration:
        """The owner refuses this node's part; the collaboration ends for every party."""
        return self.change(
            collab_id,
            lambda job, _now: job.deny(job.me, reason=reason),
            actor=by,
            action="collab.denied",
            data={"reason": reason},
            notify=EventKind.DENY,
            reason=reason,
        )

    def cancel(self, collab_id: str, *, reason: str, by: str) -> Collaboration:
        """End a live collaboration for every party."""
        return self.change(
            collab_id,
            lambda job, _now: job.cancel(by=job.me, reason=reason),
            actor=by,
            action="collab.cancelled",
            data={"reason": reason},
            notify=EventKind.CANCEL,
            reason=reason,
        )

    def abort(self, collab_id: str, *, reason: str, actor: str = "node") -> Collaboration | None:
        """Fail this node's part (protocol error) and tell every party; no-op once ended."""
        c = self._store.find_collab(collab_id)
        if c is None or c.job.state.terminal:
            return c
        try:
            return self.change(
                collab_id,
                _abort_step(c.job.me, reason),
                actor=actor,
                action="collab.failed",
                data={"reason": reason},
                notify=EventKind.ABORT,
                reason=reason,
            )
        except Conflict:
            return self._store.find_collab(collab_id)

    # -- policies ------------------------------------------------------------------------
    def policy_part(self, spec: CollaborationSpec, me: str, *, proposer: str) -> CollabPart | None:
        """What a policy rule sees of this node's part, or ``None`` when some other party is
        not an active registered peer (then no policy may approve it)."""
        peers = []
        for party in spec.parties:
            if party.name == me:
                continue
            peer = self._peers.active_by_key(party.verify_key.fingerprint())
            if peer is None or peer.public_key != party.public_key:
                return None
            peers.append(peer.name)
        stated = {cost.dataset: cost for cost in spec.privacy_costs if cost.party == me}
        datasets = spec.party(me).datasets
        return CollabPart(
            computation=spec.computation,
            datasets=datasets,
            peers=tuple(peers),
            proposer=proposer,
            costs={d: _charged(stated.get(d)) for d in datasets},
        )

    def _approving_policy(self, spec: CollaborationSpec, me: str, *, proposer: str) -> str | None:
        """The name of the first policy that approves this node's part, checked before the
        part is stored so that storing and approving are one transaction; ``None`` leaves the
        part to the owner (also when one of its datasets is missing here)."""
        if self._policies is None:
            return None
        part = self.policy_part(spec, me, proposer=proposer)
        found = None if part is None else self._policies.match_collaboration(part)
        if found is None:
            return None
        try:
            self._check_datasets(spec, me)
        except NotFound as exc:
            log.warning(
                "policy %r covers collaboration %r, but %s: left to the owner",
                found[0].name,
                spec.collab_id,
                exc.message,
            )
            return None
        return found[0].name

    # -- peers' notices ------------------------------------------------------------------
    def receive_event(
        self, collab_id: str, body: Mapping[str, Any], *, signer: Peer
    ) -> Collaboration:
        """Apply another party's approve/deny/cancel/abort; repeats and late notices are no-ops."""
        c = self.get(collab_id)
        party = self._party_of(c.spec, signer)
        if body.get("spec_hash") != c.job.spec_hash:
            raise Conflict(f"notice for {collab_id!r} names another spec")
        try:
            kind = EventKind(str(body.get("kind")))
        except ValueError:
            raise InvalidInput(f"unknown notice kind {body.get('kind')!r}") from None
        reason = str(body.get("reason") or f"{kind.value} by {party}")[:1000]
        if c.job.state.terminal:
            return c
        steps: dict[EventKind, Step] = {
            EventKind.APPROVE: lambda job, now: job.approve(party, now=now),
            EventKind.DENY: lambda job, _now: job.deny(party, reason=reason),
            EventKind.CANCEL: lambda job, _now: job.cancel(by=party, reason=reason),
            EventKind.ABORT: _abort_step(party, f"{party} aborted: {reason}"),
        }
        action = {
            EventKind.APPROVE: "collab.peer_approved",
            EventKind.DENY: "collab.denied",
            EventKind.CANCEL: "collab.cancelled",
            EventKind.ABORT: "collab.failed",
        }[kind]
        data: dict[str, Any] = {"party": party}
        if kind is not EventKind.APPROVE:
            data["reason"] = reason
        return self.change(
            collab_id, steps[kind], actor=f"peer:{signer.name}", action=action, data=data
        )

    def accepting_keys(self, collab_id: str) -> dict[str, VerifyKey] | None:
        """Keys of the parties whose protocol messages this node accepts now, or ``None``.

        Only while this node approved and the job is live, and only from
        parties that are active registered peers.
        """
        return self.accepting_keys_of(self._store.find_collab(collab_id))

    def accepting_keys_of(self, c: Collaboration | None) -> dict[str, VerifyKey] | None:
        """:meth:`accepting_keys` for an already loaded collaboration."""
        if c is None or c.job.state not in _ACCEPTING:
            return None
        keys: dict[str, VerifyKey] = {}
        for party in c.spec.parties:
            if party.name == c.job.me:
                continue
            peer = self._peers.active_by_key(party.verify_key.fingerprint())
            if peer is not None and peer.public_key == party.public_key:
                keys[party.name] = party.verify_key
        return keys

    # -- reading ---------------------------------------------------------------------------
    def get(self, collab_id: str) -> Collaboration:
        return self._store.get_collab(collab_id)

    def all(self, *, states: list[JobState] | None = None) -> list[Collaboration]:
        return self._store.list_collabs(states=states)

    def result(self, collab_id: str) -> dict[str, Any]:
        """The output at a result party once the collaboration is done."""
        c = self.get(collab_id)
        if Role.RESULT not in c.spec.party(c.job.me).roles:
            raise Forbidden(f"this node is not a result party of {collab_id!r}")
        if c.job.state is not JobState.DONE or c.result is None:
            raise NotFound(f"collaboration {collab_id!r} has no result (state {c.job.state.value})")
        return c.result

    # -- the one way state changes --------------------------------------------------------
    def change(
        self,
        collab_id: str,
        step: Step,
        *,
        actor: str,
        action: str,
        data: dict[str, Any] | None = None,
        notify: EventKind | None = None,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
        inside: Callable[[Job], None] | None = None,
    ) -> Collaboration:
        """Apply ``step`` to the stored job under a lock, store it with an audit entry,
        ``inside(job)`` (e.g. a budget charge) and the notices, all in one transaction."""
        now = self._clock()
        with self._store.sql.transaction():
            c = self._store.get_collab(collab_id, lock=True)
            job = step(c.job, now.timestamp())
            if job == c.job and result is None:
                return c
            self._store.save_job(job, at=now, result=result)
            if inside is not None:
                inside(job)
            self._record(actor, action, job, data or {})
            if notify is not None:
                body: dict[str, Any] = {"kind": notify.value, "spec_hash": job.spec_hash}
                if reason is not None:
                    body["reason"] = reason
                self._send(c.spec, job, events_path(collab_id), body, now=now.timestamp())
        self.on_change()
        return replace(c, job=job, result=c.result if result is None else result, updated_at=now)

    def record_message(
        self, collab_id: str, *, direction: str, party: str, msg_id: str, payload: bytes
    ) -> None:
        """Audit one protocol message's hash (``direction`` is ``sent`` or ``received``)."""
        c = self.get(collab_id)
        self._record(
            "node",
            f"collab.message_{direction}",
            c.job,
            {"party": party, "msg_id": msg_id, "sha256": sha256_hex(payload), "size": len(payload)},
        )

    def _record(self, actor: str, action: str, job: Job, data: dict[str, Any]) -> None:
        entry = {
            "collab_id": job.collab_id,
            "spec_hash": job.spec_hash,
            "me": job.me,
            "state": job.state.value,
            **data,
        }
        if job.reason and "reason" not in entry and job.state.terminal:
            entry["reason"] = job.reason
        self._audit.record(actor, action, audit_subject(job.spec_hash), entry)

    def _send(
        self, spec: CollaborationSpec, job: Job, path: str, body: dict[str, Any], *, now: float
    ) -> None:
        for party in spec.parties:
            if party.name != job.me:
                self._store.enqueue(
                    spec.collab_id,
                    party.name,
                    path,
                    body,
                    now=now,
                    expires_at=job.deadline + NOTICE_GRACE_SECONDS,
                )


def _charged(cost: PrivacyCost | None) -> dict[str, float] | None:
    """The ledger charge of one stated cost (ε charged as ρ = ε²/2); ``None`` if not DP."""
    if cost is None or cost.exact:
        return None
    if cost.rho is not None:
        return {"rho": cost.rho}
    eps = float(cost.epsilon or 0.0)
    return {"rho": eps * eps / 2, "epsilon": eps}


def audit_subject(spec_hash: str) -> str:
    """The audit subject of a collaboration's entries: ``collaboration:<spec hash>``."""
    return f"collaboration:{spec_hash}"


def result_hash(result: dict[str, Any]) -> str:
    """Hex SHA-256 of a result's canonical JSON (recorded in the audit log)."""
    return sha256_hex(canonical_json(result))


__all__ = ["NOTICE_GRACE_SECONDS", "Collaborations", "audit_subject", "result_hash"]
