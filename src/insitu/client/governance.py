"""Owner controls: approval policies, privacy budgets, the ledger and the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from insitu.client.records import Listing, PolicyInfo
from insitu.client.transport import Transport

#: Audit entries fetched per call when paging through the whole log.
AUDIT_PAGE = 1000


class Policies:
    """``node.policies``: rules that approve (and optionally release) requests automatically,
    or approve this node's part of collaborations."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def add(self, name: str, rule: dict[str, Any]) -> PolicyInfo:
        """Add a policy.

        A request rule's keys: ``kinds`` (``dp_query``, ``code``), ``datasets``,
        ``analysts``, ``max_epsilon``, ``max_rho``, ``auto_approve``,
        ``auto_release``. A collaboration rule names only
        ``collab:<computation>`` kinds (``collab:psi``, ``collab:secure_stats``,
        ``collab:secure_count``) and takes ``datasets``, ``peers`` (registered
        peer names; every other party must be one), ``proposers`` (member
        names, or ``peer:<name>``), ``max_epsilon`` and ``max_rho`` (the charge
        to each of this node's datasets). Rules without collaboration kinds
        never approve a collaboration. A bad rule raises
        :class:`~insitu.errors.InvalidInput`.
        """
        return PolicyInfo.from_wire(self._t.post_json("/v1/policies", {"name": name, "rule": rule}))

    def list(self) -> Listing[PolicyInfo]:
        return Listing(PolicyInfo.from_wire(p) for p in self._t.get_json("/v1/policies"))

    def remove(self, name: str) -> None:
        self._t.send("DELETE", f"/v1/policies/{quote(name, safe='')}")


class Budgets:
    """``node.budgets``: privacy-loss caps per dataset (in ρ-zCDP), in total or per analyst."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def set(self, dataset: str, *, rho: float, analyst: str = "") -> dict[str, Any]:
        """Cap ``dataset``'s total spend (``analyst=""``) or one analyst's, in ρ (zCDP).

        Returns the budget as it stands after the change (see :meth:`get`).
        """
        body = {"rho": rho, "analyst": analyst}
        data: dict[str, Any] = self._t.send(
            "PUT", f"/v1/budgets/{quote(dataset, safe='')}", json_body=body
        ).json()
        return data

    def get(self, dataset: str, *, analyst: str | None = None) -> dict[str, Any]:
        """``cap_rho``, ``spent_rho``, ``remaining_rho``, ``epsilon_at_delta`` and ``delta``.

        Analysts always see their own budget; owners see the total, or one
        analyst's when ``analyst`` is given.
        """
        data: dict[str, Any] = self._t.get_json(
            f"/v1/budgets/{quote(dataset, safe='')}", analyst=analyst
        )
        return data


class Audit:
    """``node.audit``: read and check the node's hash-chained, signed audit log."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def entries(self, *, after: int = -1, limit: int | None = None) -> Listing[dict[str, Any]]:
        """Entries with ``seq > after``, oldest first; all of them unless ``limit`` is given."""
        out: Listing[dict[str, Any]] = Listing()
        while limit is None or len(out) < limit:
            page = AUDIT_PAGE if limit is None else min(AUDIT_PAGE, limit - len(out))
            batch = self._t.get_json("/v1/audit", after=after, limit=page)
            out.extend(batch)
            if len(batch) < page:
                break
            after = int(batch[-1]["seq"])
        return out

    def verify(self) -> dict[str, Any]:
        """The node's own check of its chain: ``ok``, ``checked`` and a list of ``problems``."""
        data: dict[str, Any] = self._t.get_json("/v1/audit/verify")
        return data
