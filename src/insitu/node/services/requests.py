"""One lifecycle for every request: submit, decide, run, release, fetch with a receipt.

pending → approved | denied; approved → running → done | failed;
done → released (at once when output checking is off).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from insitu.crypto.hashing import canonical_json, hash_json
from insitu.crypto.signing import SigningKey
from insitu.errors import Conflict, Forbidden, InvalidInput, NotFound
from insitu.node.clock import Clock, iso
from insitu.node.kinds.base import DatasetAccess, Output, RequestKind
from insitu.node.services.audit_log import AuditLog
from insitu.node.services.budgets import Budgets
from insitu.node.services.policies import Policies
from insitu.node.services.results import ResultFiles
from insitu.node.store.base import Store
from insitu.node.store.records import Member, NewRequest, Request, Result, Role, Status


def request_view(r: Request) -> dict[str, Any]:
    """The JSON shape of a request, as owners and its requester see it."""
    return {
        "id": r.id,
        "kind": r.kind,
        "requester": r.requester,
        "description": r.description,
        "datasets": r.datasets,
        "payload": r.payload,
        "payload_hash": r.payload_hash,
        "cost": r.cost,
        "status": r.status.value,
        "reason": r.reason,
        "output_checking": r.output_checking,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "decided_by": r.decided_by,
        "decided_at": iso(r.decided_at),
        "started_at": iso(r.started_at),
        "finished_at": iso(r.finished_at),
        "released_by": r.released_by,
        "released_at": iso(r.released_at),
        "attempts": r.attempts,
    }


class Requests:
    """Everything that happens to a request, each step written to the audit log."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        clock: Clock,
        kinds: dict[str, RequestKind],
        data: DatasetAccess,
        policies: Policies,
        budgets: Budgets,
        results: ResultFiles,
        key: SigningKey,
        node_name: str,
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._kinds = kinds
        self._data = data
        self._policies = policies
        self._budgets = budgets
        self._results = results
        self._key = key
        self._node = node_name

    def kind(self, name: str) -> RequestKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise InvalidInput(
                f"unknown request kind {name!r}; known: {', '.join(sorted(self._kinds))}"
            ) from None

    # -- submit and decide ----------------------------------------------------
    def submit(
        self, kind: str, payload: dict[str, Any], *, by: Member, description: str = ""
    ) -> Request:
        if by.role is Role.AUDITOR:
            raise Forbidden("auditors cannot submit requests")
        if not isinstance(payload, dict):
            raise InvalidInput("payload must be a JSON object")
        if not isinstance(description, str) or len(description) > 4000:
            raise InvalidInput("description must be text of at most 4000 characters")
        prepared = self.kind(kind).prepare(payload, self._data)
        if prepared.cost is not None:
            self._budgets.check(prepared.datasets, by.name, prepared.cost)
        new = NewRequest(
            kind,
            by.name,
            prepared.datasets,
            prepared.payload,
            hash_json({"kind": kind, "payload": prepared.payload}),
            description,
            prepared.cost,
        )
        now = self._clock()
        with self._store.transaction():
            req = self._store.add_request(new, at=now)
            self._audit.record(
                by.name,
                "request.submitted",
                f"request:{req.id}",
                {
                    "kind": kind,
                    "payload_hash": req.payload_hash,
                    "datasets": req.datasets,
                    "cost": req.cost,
                },
            )
            checking = prepared.output_checking
            match = self._policies.match(
                kind=kind, datasets=req.datasets, analyst=by.name, cost=req.cost
            )
            if match is not None:
                policy, rule = match
                checking = checking and not rule.auto_release
                req = self._store.transition(
                    req.id,
                    expect=[Status.PENDING],
                    to=Status.APPROVED,
                    at=now,
                    decided_by=f"policy:{policy.name}",
                    decided_at=now,
                    output_checking=checking,
                )
                self._audit.record(
                    f"policy:{policy.name}",
                    "request.approved",
                    f"request:{req.id}",
                    {"output_checking": checking},
                )
            elif checking != req.output_checking:
                req = self._store.transition(
                    req.id,
                    expect=[Status.PENDING],
                    to=Status.PENDING,
                    at=now,
                    output_checking=checking,
                )
        return req

    def approve(self, request_id: int, *, by: Member) -> Request:
        now = self._clock()
        with self._store.transaction():
            req = self._store.transition(
                request_id,
                expect=[Status.PENDING],
                to=Status.APPROVED,
                at=now,
                decided_by=by.name,
                decided_at=now,
            )
            self._audit.record(by.name, "request.approved", f"request:{request_id}", {})
        return req

    def deny(self, request_id: int, *, by: Member, reason: str) -> Request:
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidInput("a denial needs a reason")
        now = self._clock()
        with self._store.transaction():
            req = self._store.transition(
                request_id,
                expect=[Status.PENDING],
                to=Status.DENIED,
                at=now,
                decided_by=by.name,
                decided_at=now,
                reason=reason[:2000],
            )
            self._audit.record(
                by.name, "request.denied", f"request:{request_id}", {"reason": reason[:2000]}
            )
        return req

    def release(self, request_id: int, *, by: Member) -> Request:
        now = self._clock()
        with self._store.transaction():
            req = self._store.transition(
                request_id,
                expect=[Status.DONE],
                to=Status.RELEASED,
                at=now,
                released_by=by.name,
                released_at=now,
            )
            self._finish_receipt(req)
        return req

    # -- read -------------------------------------------------------------------
    def get(self, request_id: int, *, viewer: Member) -> Request:
        req = self._store.get_request(request_id)
        if viewer.role is not Role.OWNER and req.requester != viewer.name:
            raise NotFound(f"no request {request_id}")
        return req

    def visible(self, *, viewer: Member, status: list[Status] | None = None) -> list[Request]:
        if viewer.role is Role.OWNER:
            return self._store.list_requests(status=status)
        return self._store.list_requests(status=status, requester=viewer.name)

    def result(self, request_id: int, *, viewer: Member) -> tuple[bytes, str]:
        """Released results go to their requester; owners may read a result to check it."""
        req = self.get(request_id, viewer=viewer)
        allowed = (
            {Status.RELEASED} if viewer.role is not Role.OWNER else {Status.RELEASED, Status.DONE}
        )
        if req.status not in allowed:
            raise Conflict(f"request {request_id} is {req.status.value}; no result is available")
        res = self._store.get_result(request_id)
        return self._results.get(res.content_hash), res.media_type

    def receipt(self, request_id: int, *, viewer: Member) -> dict[str, Any]:
        req = self.get(request_id, viewer=viewer)
        if req.status is not Status.RELEASED:
            raise Conflict(
                f"request {request_id} is {req.status.value}; receipts come with released results"
            )
        return self._store.get_result(request_id).receipt

    def preview(self, request_id: int, *, by: Member, workdir: Path) -> Output:
        req = self._store.get_request(request_id)
        out = self.kind(req.kind).preview(req, self._data, workdir)
        self._audit.record(by.name, "request.previewed_on_mock", f"request:{request_id}", {})
        return out

    # -- run (called by the runner) -------------------------------------------
    def execute(self, req: Request, workdir: Path) -> Request:
        """Run a claimed request and store its outcome; never raises for a failed run."""
        from insitu.errors import InsituError

        try:
            output = self.kind(req.kind).run(req, self._data, workdir)
        except InsituError as exc:
            private = exc.details.get("private") if isinstance(exc.details, dict) else None
            return self._fail(req, f"{exc.code}: {exc.message}", private=private)
        except Exception as exc:  # a bug in a kind must not kill the runner
            return self._fail(req, f"internal error: {type(exc).__name__}")
        return self._complete(req, output)

    def _fail(self, req: Request, reason: str, *, private: Any = None) -> Request:
        """Mark a run failed: ``reason`` goes to the requester, ``private`` to the audit log."""
        now = self._clock()
        with self._store.transaction():
            out = self._store.transition(
                req.id,
                expect=[Status.RUNNING],
                to=Status.FAILED,
                at=now,
                finished_at=now,
                reason=reason[:2000],
            )
            data: dict[str, Any] = {"reason": reason[:2000]}
            if private is not None:
                data["private"] = private
            self._audit.record("node", "request.failed", f"request:{req.id}", data)
        return out

    def _complete(self, req: Request, output: Output) -> Request:
        from insitu.errors import BudgetExceeded

        now = self._clock()
        digest = self._results.put(output.data)
        cost = output.cost if output.cost is not None else req.cost
        try:
            with self._store.transaction():
                if cost is not None:
                    self._budgets.charge(req.datasets, req.requester, cost, request_id=req.id)
                to = Status.DONE if req.output_checking else Status.RELEASED
                extra: dict[str, Any] = {"finished_at": now, "cost": cost}
                if to is Status.RELEASED:
                    extra.update(released_by="policy", released_at=now)
                out = self._store.transition(
                    req.id, expect=[Status.RUNNING], to=to, at=now, **extra
                )
                inputs = [{"dataset": d, "content_hash": self._data_hash(d)} for d in req.datasets]
                self._store.put_result(
                    Result(
                        req.id,
                        digest,
                        output.media_type,
                        len(output.data),
                        now,
                        {"inputs": inputs, "notes": output.notes},
                    )
                )
                self._audit.record(
                    "node",
                    "request.done",
                    f"request:{req.id}",
                    {"result_hash": digest, "cost": cost, "inputs": inputs},
                )
                if to is Status.RELEASED:
                    self._finish_receipt(out)
        except BudgetExceeded as exc:
            return self._fail(req, f"{exc.code}: {exc.message}")
        return out

    def _data_hash(self, dataset: str) -> str:
        return self._store.get_dataset(dataset).content_hash

    def _finish_receipt(self, req: Request) -> None:
        """Record the release and store the signed receipt, in the caller's transaction."""
        res = self._store.get_result(req.id)
        entry = self._audit.record(
            req.released_by or "node",
            "request.released",
            f"request:{req.id}",
            {"result_hash": res.content_hash},
        )
        body = {
            "node": {"name": self._node, "public_key": self._key.public_key.to_text()},
            "request": {
                "id": req.id,
                "kind": req.kind,
                "requester": req.requester,
                "payload_hash": req.payload_hash,
                "datasets": req.datasets,
                "submitted_at": iso(req.created_at),
            },
            "approvals": [{"by": req.decided_by, "at": iso(req.decided_at)}],
            "release": {
                "by": req.released_by,
                "at": iso(req.released_at),
                "output_checked": req.output_checking,
            },
            "cost": req.cost,
            "inputs": res.receipt.get("inputs", []),
            "notes": res.receipt.get("notes", {}),
            "code_hash": req.payload_hash,
            "result": {
                "content_hash": res.content_hash,
                "media_type": res.media_type,
                "size": res.size,
            },
            "audit_entry": {"seq": entry.seq, "hash": entry.hash},
        }
        signature = self._key.sign(canonical_json(body)).hex()
        self._store.put_result(
            Result(
                res.request_id,
                res.content_hash,
                res.media_type,
                res.size,
                res.created_at,
                {**body, "signature": signature},
            )
        )

    def requeue_interrupted(self) -> list[int]:
        """After a restart: requests left running were cut off before release; run them again."""
        ids = []
        now: datetime = self._clock()
        for req in self._store.list_requests(status=[Status.RUNNING]):
            with self._store.transaction():
                self._store.transition(req.id, expect=[Status.RUNNING], to=Status.APPROVED, at=now)
                self._audit.record(
                    "node",
                    "request.requeued",
                    f"request:{req.id}",
                    {"reason": "node restarted while it was running"},
                )
            ids.append(req.id)
        return ids
