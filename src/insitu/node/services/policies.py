"""Owner-written rules that approve (and optionally release) some requests automatically,
and this node's part of some collaborations."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from insitu.errors import InvalidInput
from insitu.node.clock import Clock
from insitu.node.services.audit_log import AuditLog
from insitu.node.store.base import Store
from insitu.node.store.records import Policy

log = logging.getLogger("insitu.policies")

#: A kind naming a collaboration computation: ``collab:psi``, ``collab:secure_stats``, …
COLLAB_KIND_PREFIX = "collab:"
_COLLAB_KIND = re.compile(r"^collab:[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def collab_kind(computation: str) -> str:
    """The rule kind that names collaborations running ``computation``."""
    return COLLAB_KIND_PREFIX + computation


@dataclass(frozen=True)
class CollabPart:
    """What a rule sees of this node's part of a collaboration.

    ``peers`` are the names this node's owner registered for every *other*
    party (looked up by the party's key, not the name the spec gives it).
    ``proposer`` is the member who proposed it here, or ``peer:<name>`` for a
    proposal received from that registered peer (the analyst name the peer
    reports is not used: only the peer's signature is checked).
    ``costs`` maps each of this node's datasets to the cost its ledger is
    charged (``rho``, plus ``epsilon`` when the spec states ε; ε is charged as
    ρ = ε²/2), or ``None`` when the spec states no DP cost (``exact: true``).
    """

    computation: str
    datasets: tuple[str, ...]
    peers: tuple[str, ...]
    proposer: str
    costs: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)


class Rule(BaseModel):
    """When a request or a collaboration part matches every stated condition, the policy applies.

    A rule is either for requests or for collaborations, never both:

    * **Request rules** have no ``kinds`` (every request kind) or name request
      kinds (``dp_query``, ``code``). Conditions: ``datasets`` (every dataset
      the request reads is listed), ``analysts`` (who submitted it),
      ``max_epsilon``/``max_rho``. ``auto_release`` skips output checking;
      leave it off for custom code unless you trust every analyst the rule
      names. A request rule never approves a collaboration.
    * **Collaboration rules** name only collaboration computations in
      ``kinds``, as ``collab:<computation>`` (``collab:psi``,
      ``collab:secure_stats``, ``collab:secure_count``, ``collab:secure_sum``).
      They approve this node's part when it arrives or is proposed here.
      Conditions: ``datasets`` (every dataset of this node's part is listed),
      ``peers`` (every other party is one of these registered peer names),
      ``proposers`` (a member name here, or ``peer:<name>`` for proposals
      from that peer), ``max_epsilon``/``max_rho`` (the charge to *each* of
      this node's datasets; ε is charged as ρ = ε²/2, and a cost stated only
      in ρ has no ε). ``analysts`` and ``auto_release`` are refused here.

    ``max_epsilon``/``max_rho`` bound the privacy cost; something without a
    stated cost (custom code, an ``exact: true`` release, a collaboration
    part with no datasets) never matches a rule that sets them.
    """

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = None
    datasets: list[str] | None = None
    analysts: list[str] | None = None
    peers: list[str] | None = None
    proposers: list[str] | None = None
    max_epsilon: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_rho: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    auto_approve: bool = True
    auto_release: bool = False

    @model_validator(mode="after")
    def _requests_or_collaborations(self) -> Rule:
        kinds = self.kinds or []
        collab = [k for k in kinds if k.startswith(COLLAB_KIND_PREFIX)]
        if collab and len(collab) != len(kinds):
            raise ValueError(
                "a rule is for requests or for collaborations: kinds mixes "
                f"{', '.join(k for k in kinds if k not in collab)} with {', '.join(collab)}"
            )
        for kind in collab:
            if not _COLLAB_KIND.match(kind):
                raise ValueError(f"{kind!r} is not 'collab:<computation>'")
        if collab:
            if self.analysts is not None:
                raise ValueError(
                    "analysts applies to requests; a collaboration rule names proposers"
                )
            if self.auto_release:
                raise ValueError("auto_release applies to requests, not collaborations")
        elif self.peers is not None or self.proposers is not None:
            raise ValueError(
                "peers and proposers apply to collaborations only: "
                "name the computations in kinds, e.g. 'collab:psi'"
            )
        return self

    @property
    def for_collaborations(self) -> bool:
        """Whether this rule approves collaboration parts (and no requests)."""
        return bool(self.kinds) and all(k.startswith(COLLAB_KIND_PREFIX) for k in self.kinds or [])

    def matches(
        self, *, kind: str, datasets: list[str], analyst: str, cost: dict[str, Any] | None
    ) -> bool:
        """Whether a request of ``kind`` by ``analyst`` on ``datasets`` at ``cost`` matches."""
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.datasets is not None and not set(datasets) <= set(self.datasets):
            return False
        if self.analysts is not None and analyst not in self.analysts:
            return False
        return self._within_bounds(cost)

    def matches_collaboration(self, part: CollabPart) -> bool:
        """Whether this node's ``part`` of a collaboration matches (request rules never do)."""
        if not self.for_collaborations or collab_kind(part.computation) not in (self.kinds or []):
            return False
        if self.datasets is not None and not set(part.datasets) <= set(self.datasets):
            return False
        if self.peers is not None and not set(part.peers) <= set(self.peers):
            return False
        if self.proposers is not None and part.proposer not in self.proposers:
            return False
        if self.max_epsilon is None and self.max_rho is None:
            return True
        charges = [part.costs.get(d) for d in part.datasets]
        return bool(charges) and all(self._within_bounds(c) for c in charges)

    def _within_bounds(self, cost: Mapping[str, Any] | None) -> bool:
        if self.max_epsilon is None and self.max_rho is None:
            return True
        if not cost:
            return False
        eps = cost.get("epsilon")
        rho = cost.get("rho")
        if self.max_epsilon is not None and (eps is None or eps > self.max_epsilon):
            return False
        return not (self.max_rho is not None and (rho is None or rho > self.max_rho))


class Policies:
    """Create, list and evaluate approval policies.

    ``computations``, when given, are the collaboration computations this node
    runs: a rule naming any other ``collab:<computation>`` is refused (a typo
    would otherwise never match).
    """

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        clock: Clock,
        *,
        computations: Collection[str] | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._computations = None if computations is None else frozenset(computations)

    def add(self, name: str, rule: dict[str, Any], *, by: str) -> Policy:
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InvalidInput("policy name must be 1-64 characters")
        try:
            parsed = Rule.model_validate(rule)
        except ValidationError as exc:
            raise InvalidInput(
                f"invalid policy rule: {exc.errors()[0]['msg']}", details=str(exc)
            ) from None
        self._check_computations(parsed)
        with self._store.transaction():
            policy = self._store.add_policy(name, parsed.model_dump(), by=by, at=self._clock())
            self._audit.record(by, "policy.added", f"policy:{name}", parsed.model_dump())
        return policy

    def _check_computations(self, rule: Rule) -> None:
        if self._computations is None or not rule.for_collaborations:
            return
        unknown = [
            k for k in rule.kinds or [] if k[len(COLLAB_KIND_PREFIX) :] not in self._computations
        ]
        if unknown:
            known = ", ".join(collab_kind(c) for c in sorted(self._computations))
            raise InvalidInput(
                f"invalid policy rule: unknown collaboration computation "
                f"{', '.join(unknown)}; known: {known}"
            )

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
        for policy, rule in self._approving():
            if rule.matches(kind=kind, datasets=datasets, analyst=analyst, cost=cost):
                return policy, rule
        return None

    def match_collaboration(self, part: CollabPart) -> tuple[Policy, Rule] | None:
        """The first policy (oldest first) that approves this node's ``part`` of a collaboration."""
        for policy, rule in self._approving():
            if rule.matches_collaboration(part):
                return policy, rule
        return None

    def _approving(self) -> Iterator[tuple[Policy, Rule]]:
        """Stored policies that approve, oldest first; one that no longer parses approves
        nothing (it is logged, not fatal, so it cannot block requests)."""
        for policy in self._store.list_policies():
            try:
                rule = Rule.model_validate(policy.rule)
            except ValidationError as exc:
                log.warning(
                    "policy %r is not a valid rule and approves nothing: %s", policy.name, exc
                )
                continue
            if rule.auto_approve:
                yield policy, rule
