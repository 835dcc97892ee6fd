"""Members, their roles and bearer tokens.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored.
A fast hash (not a password hash) is right here because the token has full
entropy, and it keeps authentication cheap under polling load.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from insitu.crypto.hashing import sha256_hex
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, Unauthenticated
from insitu.node.clock import Clock
from insitu.node.services.audit_log import AuditLog
from insitu.node.store.base import Store
from insitu.node.store.records import Member, Role, TokenInfo

TOKEN_PREFIX = "ins_"  # noqa: S105 - a public prefix, not a secret
MEMBER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def new_token(rng: Rng = system_rng) -> str:
    """A fresh bearer token: prefix plus 32 random bytes, URL-safe base64."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(rng(32)).decode().rstrip("=")


def hash_token(token: str) -> str:
    return sha256_hex(token.encode())


@dataclass(frozen=True)
class IssuedToken:
    """A token as shown once to the person it was made for."""

    member: Member
    token: str
    info: TokenInfo


class Members:
    """Create members, issue and revoke tokens, authenticate callers."""

    def __init__(
        self, store: Store, audit: AuditLog, clock: Clock, *, cache_seconds: float = 1.0
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._fresh = timedelta(seconds=cache_seconds)
        self._cache: dict[str, tuple[Member, datetime]] = {}
        self._cache_lock = threading.Lock()

    def add(
        self, name: str, role: Role | str, *, by: str, expires_in_days: float | None = None
    ) -> IssuedToken:
        if not isinstance(name, str) or not MEMBER_NAME.match(name):
            raise InvalidInput("member name must be 1-64 letters, digits, '_', '.', '@' or '-'")
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(
                f"unknown role {role!r}; roles are owner, analyst, auditor"
            ) from None
        with self._store.transaction():
            member = self._store.add_member(name, role, at=self._clock())
            self._audit.record(by, "member.added", f"member:{name}", {"role": role.value})
            issued = self._issue(member, label="initial", expires_in_days=expires_in_days, by=by)
        return issued

    def issue_token(
        self, name: str, *, by: str, label: str = "", expires_in_days: float | None = None
    ) -> IssuedToken:
        with self._store.transaction():
            member = self._store.get_member(name)
            return self._issue(member, label=label, expires_in_days=expires_in_days, by=by)

    def _issue(
        self, member: Member, *, label: str, expires_in_days: float | None, by: str
    ) -> IssuedToken:
        if expires_in_days is not None and not expires_in_days > 0:
            raise InvalidInput("expires_in_days must be positive")
        now = self._clock()
        expires = None if expires_in_days is None else now + timedelta(days=expires_in_days)
        token = new_token()
        info = self._store.add_token(
            member.name, hash_token(token), label=label, at=now, expires_at=expires
        )
        self._audit.record(
            by,
            "token.issued",
            f"member:{member.name}",
            {"token_id": info.id, "expires_at": None if expires is None else expires.isoformat()},
        )
        return IssuedToken(member, token, info)

    def revoke(self, name: str, *, by: str, token_id: int | None = None) -> int:
        self._forget()
        with self._store.transaction():
            count = self._store.revoke_tokens(name, at=self._clock(), token_id=token_id)
            self._store.after_commit(self._forget)
            self._audit.record(
                by, "token.revoked", f"member:{name}", {"token_id": token_id, "count": count}
            )
        return count

    def authenticate(self, token: str | None) -> Member:
        """The member behind a bearer token; one opaque error for every failure.

        A successful check is remembered for ``cache_seconds`` (1 s) so polling
        clients do not hit the database twice per call. Revocation through this
        node clears the cache at once; a token's expiry is honoured to within
        that second.
        """
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise Unauthenticated("missing or invalid token")
        digest = hash_token(token)
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(digest)
        if cached is not None and timedelta(0) <= now - cached[1] < self._fresh:
            return cached[0]
        member = self._store.member_for_token(digest, now=now)
        if member is None:
            raise Unauthenticated("missing or invalid token")
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (member, now)
        return member

    def _forget(self) -> None:
        """Drop cached authentications, so a revocation takes effect at once."""
        with self._cache_lock:
            self._cache.clear()

    def all(self) -> list[Member]:
        return self._store.list_members()

    def tokens(self, name: str) -> list[TokenInfo]:
        return self._store.list_tokens(name)
