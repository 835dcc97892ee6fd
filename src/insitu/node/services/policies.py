"""Owner-written rules that approve (and optionally release) some requests automatically."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from insitu.errors import InvalidInput
from insitu.node.clock import Clock
from insitu.node.services.audit_log import AuditLog
from insitu.node.store.base import Store
from insitu.node.store.records import Policy


class Rule(BaseModel):
    """When a request matches every stated condition, the policy applies.

    ``max_epsilon``/``max_rho`` bound the request's privacy cost; a request
    without a stated cost (custom code) never matches a rule that sets them.
    ``auto_release`` skips output checking; leave it off for custom code
    unless you trust every analyst the rule names.
    """

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = None
    datasets: list[str] | None = None
    analysts: list[str] | None = None
    max_epsilon: float | None = Field(default=None, ge=0)
    max_rho: float | None = Field(default=None, ge=0)
    auto_approve: bool = True
    auto_release: bool = False

    def matches(
        self, *, kind: str, datasets: list[str], analyst: str, cost: dict[str, Any] | None
    ) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.datasets is not None and not set(datasets) <= set(self.datasets):
            return False
        if self.analysts is not None and analyst not in self.analysts:
            return False
        if self.max_epsilon is not None or self.max_rho is not None:
            if not cost:
                return False
            eps = cost.get("epsilon")
            rho = cost.get("rho")
            if self.max_epsilon is not None and (eps is None or eps > self.max_epsilon):
                return False
            if self.max_rho is not None and (rho is None or rho > self.max_rho):
                return False
        return True


class Policies:
    """Create, list and evaluate approval policies."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    def add(self, name: str, rule: dict[str, Any], *, by: str) -> Policy:
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InvalidInput("policy name must be 1-64 characters")
        try:
            parsed = Rule.model_validate(rule)
        except ValidationError as exc:
            raise InvalidInput(
                f"invalid policy rule: {exc.errors()[0]['msg']}", details=str(exc)
            ) from None
        with self._store.transaction():
            policy = self._store.add_policy(name, parsed.model_dump(), by=by, at=self._clock())
            self._audit.record(by, "policy.added", f"policy:{name}", parsed.model_dump())
        return policy

    def remove(self, name: str, *, by: str) -> None:
        with self._store.transaction():
            self._store.delete_policy(name)
            self._audit.record(by, "policy.removed", f"policy:{name}", {})

    def all(self) -> list[Policy]:
        return self._store.list_policies()

    def match(
        self, *, kind: str, datasets: list[str], analyst: str, cost: dict[str, Any] | None
    ) -> tuple[Policy, Rule] | None:
        """The first policy (oldest first) that approves such a request."""
        for policy in self._store.list_policies():
            rule = Rule.model_validate(policy.rule)
            if rule.auto_approve and rule.matches(
                kind=kind, datasets=datasets, analyst=analyst, cost=cost
            ):
                return policy, rule
        return None
