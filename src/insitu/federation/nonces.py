"""Nonce stores that refuse a signed request seen before (replay protection)."""

from __future__ import annotations

import heapq
import threading
from abc import ABC, abstractmethod


class NonceStore(ABC):
    """Remembers the nonces of accepted requests, per signing key.

    A signed request is accepted only while its timestamp lies within the skew
    window, so a nonce needs remembering only until ``expires_at`` (the
    request's timestamp plus the window); after that the timestamp check
    refuses the request anyway.

    Implementations MUST remember every added nonce at least until its
    ``expires_at``; MUST make :meth:`check_and_add` atomic (two concurrent
    calls with the same key and nonce: exactly one returns ``True``), also
    across processes where several serve the same node; MAY forget a nonce
    once ``now`` has passed its ``expires_at``.
    """

    @abstractmethod
    def check_and_add(self, key_id: str, nonce: str, *, expires_at: float, now: float) -> bool:
        """Record ``(key_id, nonce)``; ``True`` if it was new, ``False`` if seen before.

        Parameters
        ----------
        key_id:
            Identifier of the key that signed the request.
        nonce:
            The request's nonce (text, at most 64 characters).
        expires_at:
            Unix time (seconds) after which the nonce may be forgotten.
        now:
            Current Unix time (seconds); stores may purge expired entries.
        """


class MemoryNonceStore(NonceStore):
    """In-process nonce store for one server process and tests.

    Holds at most ``max_entries`` live nonces; when full, a new nonce is
    refused (``False``) rather than forgetting a live one, so memory stays
    bounded without weakening replay protection.
    """

    def __init__(self, *, max_entries: int = 1_000_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], float] = {}
        self._expiry: list[tuple[float, str, str]] = []

    def check_and_add(self, key_id: str, nonce: str, *, expires_at: float, now: float) -> bool:
        with self._lock:
            self._purge(now)
            entry = (key_id, nonce)
            if entry in self._live:
                return False
            if len(self._live) >= self._max:
                return False
            self._live[entry] = expires_at
            heapq.heappush(self._expiry, (expires_at, key_id, nonce))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def _purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            _, key_id, nonce = heapq.heappop(self._expiry)
            self._live.pop((key_id, nonce), None)


__all__ = ["MemoryNonceStore", "NonceStore"]
