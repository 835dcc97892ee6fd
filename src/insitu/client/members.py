"""Members and their tokens (owner only): add, list, issue, revoke."""

from __future__ import annotations

from urllib.parse import quote

from insitu.client.records import IssuedToken, Listing, MemberInfo, TokenInfo
from insitu.client.transport import Transport


class Members:
    """``node.members``: manage who may use the node. Every call needs the owner role."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def add(
        self, name: str, *, role: str = "analyst", expires_in_days: float | None = None
    ) -> IssuedToken:
        """Add a member and make their first token.

        Returns
        -------
        IssuedToken
            ``.token`` is the bearer token, shown this once (the node keeps
            only its hash); ``.member`` and ``.info`` describe it.
        """
        body = {"name": name, "role": role, "expires_in_days": expires_in_days}
        return IssuedToken.from_wire(self._t.post_json("/v1/members", body))

    def list(self) -> Listing[MemberInfo]:
        """Every member of the node."""
        return Listing(MemberInfo.from_wire(m) for m in self._t.get_json("/v1/members"))

    def tokens(self, name: str) -> Listing[TokenInfo]:
        """Metadata of ``name``'s tokens (ids, expiry, revocation), never the tokens."""
        data = self._t.get_json(f"/v1/members/{quote(name, safe='')}/tokens")
        return Listing(TokenInfo.from_wire(t) for t in data)

    def issue_token(
        self, name: str, *, expires_in_days: float | None = None, label: str = ""
    ) -> IssuedToken:
        """Make another token for an existing member (for example to rotate one)."""
        body = {"label": label, "expires_in_days": expires_in_days}
        return IssuedToken.from_wire(
            self._t.post_json(f"/v1/members/{quote(name, safe='')}/tokens", body)
        )

    def revoke(self, name: str, token_id: int | None = None) -> int:
        """Revoke one of ``name``'s tokens, or all of them; returns how many were revoked."""
        data = self._t.post_json(f"/v1/members/{quote(name, safe='')}/revoke", token_id=token_id)
        return int(data["revoked"])
