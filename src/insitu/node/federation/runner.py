"""The collaboration worker: delivers notices, times jobs out, runs ready jobs, recovers.

Write-ahead rules (see :mod:`insitu.federation.job`): a job is stored
``running`` before its first protocol message leaves; the release point and
the budget charge are stored in one transaction before the message that lets
another party learn an output; a result is stored with ``done``. After a
restart, a job that was ``running`` fails cleanly (its masks are gone and
re-running with fresh randomness could show peers two sharings of one input)
and every party is told; the budget stays charged only if the release point
had been passed.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from insitu.computations.channel import Channel
from insitu.crypto.signing import SigningKey
from insitu.errors import Conflict, InsituError, SecurityError
from insitu.federation import blobs
from insitu.federation.http_channel import HttpChannel, RetryPolicy
from insitu.federation.job import Job, JobState
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.collaborations import Collaborations, result_hash
from insitu.node.federation.computations import COMPUTATIONS, CollabContext, DatasetFiles
from insitu.node.federation.db_stores import DbInbox
from insitu.node.federation.notices import EventKind
from insitu.node.federation.outbox import Outbox
from insitu.node.federation.peer_client import PeerClient
from insitu.node.federation.peers import Peers
from insitu.node.services.budgets import Budgets
from insitu.node.services.results import ResultFiles

log = logging.getLogger("insitu.collaborations")

_LIVE = [JobState.PROPOSED, JobState.APPROVED_LOCAL, JobState.READY, JobState.RUNNING]


class RecordingChannel(Channel):
    """A channel that audits the hash of every message it sends and receives.

    It also refuses to send to a party that is no longer an active peer.
    """

    def __init__(
        self, inner: HttpChannel, collabs: Collaborations, peers: Peers, spec: CollaborationSpec
    ) -> None:
        self._inner = inner
        self._collabs = collabs
        self._peers = peers
        self._spec = spec
        self.me = inner.me
        self.parties = inner.parties
        self.max_message_bytes = inner.max_message_bytes

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        party = self._spec.party(to)
        if self._peers.active_by_key(party.verify_key.fingerprint()) is None:
            raise SecurityError(f"party {to!r} is not an active registered peer any more")
        self._collabs.record_message(
            self._spec.collab_id, direction="sent", party=to, msg_id=msg_id, payload=payload
        )
        self._inner.send(to, msg_id, payload)

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        payload = self._inner.receive(sender, msg_id, timeout=timeout)
        self._collabs.record_message(
            self._spec.collab_id, direction="received", party=sender, msg_id=msg_id, payload=payload
        )
        return payload


def _ledger_costs(spec: CollaborationSpec, me: str) -> list[tuple[str, dict[str, Any]]]:
    """(dataset, cost) charged to this node's ledger; exact releases are audited, not charged."""
    out: list[tuple[str, dict[str, Any]]] = []
    for cost in spec.privacy_costs:
        if cost.party != me or cost.exact:
            continue
        if cost.rho is not None:
            out.append((cost.dataset, {"rho": cost.rho}))
        else:
            eps = float(cost.epsilon or 0.0)
            out.append(
                (
                    cost.dataset,
                    {
                        "rho": eps * eps / 2,
                        "epsilon": eps,
                        "delta": cost.delta,
                        "pure": cost.delta is None,
                    },
                )
            )
    return out


class CollaborationRunner:
    """One background thread for notices and deadlines; one thread per running job."""

    def __init__(
        self,
        collabs: Collaborations,
        outbox: Outbox,
        peers: Peers,
        inbox: DbInbox,
        key: SigningKey,
        client: PeerClient,
        datasets: DatasetFiles,
        budgets: Budgets,
        results: ResultFiles,
        *,
        poll_seconds: float = 0.1,
        send_deadline: float = 30.0,
    ) -> None:
        self._results = results
        self._collabs = collabs
        self._outbox = outbox
        self._peers = peers
        self._inbox = inbox
        self._key = key
        self._client = client
        self._datasets = datasets
        self._budgets = budgets
        self._poll = poll_seconds
        self._send_deadline = send_deadline
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="insitu-collab", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def recover(self) -> None:
        """What a restarted node does with each live job (see :meth:`Job.recover`)."""
        for c in self._collabs.all(states=_LIVE):
            before = c.job
            after, _action = before.recover(now=time.time())
            if after == before:
                continue
            log.warning("collaboration %s: %s after restart", c.collab_id, after.state.value)
            was_running = before.state is JobState.RUNNING
            self._collabs.change(
                c.collab_id,
                lambda job, now: job.recover(now=now)[0],
                actor="node",
                action="collab.recovered",
                data={"was": before.state.value},
                notify=EventKind.ABORT if was_running else None,
                reason=after.reason if was_running else None,
            )

    # -- one pass --------------------------------------------------------------------
    def tick(self) -> None:
        """Time out overdue jobs, start ready ones, deliver due notices.

        Ready jobs start before notices go out: a job is ready only once every
        party approved, so the others already accept its messages, and the
        notices' round trips need not delay this node's start.
        """
        now = time.time()
        for c in self._collabs.all(states=_LIVE):
            if c.job.overdue(now):
                with contextlib.suppress(Conflict):
                    self._collabs.change(
                        c.collab_id,
                        lambda job, at: job.expire(now=at),
                        actor="node",
                        action="collab.timed_out",
                    )
            elif c.job.state is JobState.READY:
                self._launch(c.collab_id)
        self._outbox.deliver_due()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("collaboration worker error")
            self._wake.wait(self._poll)
            self._wake.clear()

    def _launch(self, collab_id: str) -> None:
        with self._lock:
            alive = self._jobs.get(collab_id)
            if alive is not None and alive.is_alive():
                return
            thread = threading.Thread(
                target=self._execute,
                args=(collab_id,),
                name=f"insitu-collab-{collab_id}",
                daemon=True,
            )
            self._jobs[collab_id] = thread
            thread.start()

    # -- running one job ---------------------------------------------------------------
    def _execute(self, collab_id: str) -> None:
        c = self._collabs.get(collab_id)
        me = c.job.me
        costs = _ledger_costs(c.spec, me)
        analyst = f"collab:{collab_id}"[:64]
        try:
            for dataset, cost in costs:
                self._budgets.check([dataset], analyst, cost)
        except InsituError as exc:
            self._collabs.abort(collab_id, reason=f"{me}: {exc.message}")
            return
        try:
            started = self._collabs.change(
                collab_id,
                lambda job, now: job.start(now=now),
                actor="node",
                action="collab.started",
            )
        except Conflict:
            return
        if started.job.state is not JobState.RUNNING:
            return
        try:
            channel = self._channel(started.spec, started.job)
            output = self._run(started.spec, started.job, channel)
        except Exception as exc:  # every failure ends the job cleanly, with its reason
            reason = exc.message if isinstance(exc, InsituError) else f"{type(exc).__name__}: {exc}"
            log.warning("collaboration %s failed at %s: %s", collab_id, me, reason)
            self._collabs.abort(collab_id, reason=f"{me}: {reason}")
        else:
            self._finish(collab_id, output)
        finally:
            self._inbox.discard(collab_id)

    def _channel(self, spec: CollaborationSpec, job: Job) -> RecordingChannel:
        left = max(0.001, job.deadline - time.time())
        inner = HttpChannel(
            me=job.me,
            collab_id=spec.collab_id,
            peers={p.name: p.url for p in spec.parties if p.name != job.me},
            key=self._key,
            inbox=self._inbox,
            client=self._client.http,
            retry=RetryPolicy(deadline=min(self._send_deadline, left), request_timeout=10.0),
        )
        return RecordingChannel(inner, self._collabs, self._peers, spec)

    def _run(self, spec: CollaborationSpec, job: Job, channel: Channel) -> dict[str, Any] | None:
        costs = _ledger_costs(spec, job.me)
        analyst = f"collab:{spec.collab_id}"[:64]

        def charge(_job: Job) -> None:
            for dataset, cost in costs:
                self._budgets.charge([dataset], analyst, cost, request_id=0)

        def on_release() -> None:
            self._collabs.change(
                spec.collab_id,
                lambda j, _now: j if j.released else j.record_release(),
                actor="node",
                action="collab.released",
                data={"charged": [d for d, _ in costs]},
                inside=charge,
            )

        ctx = CollabContext(
            spec=spec,
            me=job.me,
            channel=channel,
            datasets=self._datasets,
            on_release=on_release,
            timeout=max(0.001, job.deadline - time.time()),
        )
        return COMPUTATIONS[spec.computation](ctx)

    def _finish(self, collab_id: str, output: dict[str, Any] | None) -> None:
        if output is not None:  # large binary values go to result files (see federation.blobs)
            output = blobs.externalise(output, self._results.put)
        digest = None if output is None else result_hash(output)
        try:
            self._collabs.change(
                collab_id,
                lambda job, _now: job.finish(result_sha256=digest),
                actor="node",
                action="collab.done",
                data={"result_sha256": digest},
                result=output,
            )
        except Conflict as exc:
            log.warning("collaboration %s ended before it could finish: %s", collab_id, exc.message)


__all__ = ["CollaborationRunner", "RecordingChannel"]
