"""Database-backed :class:`NonceStore` and :class:`Inbox`, shared by every process of a node."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from insitu.errors import Unavailable
from insitu.federation.inbox import Inbox
from insitu.federation.messages import MessageKey
from insitu.federation.nonces import NonceStore
from insitu.node.clock import Clock
from insitu.node.federation.store import FederationStore


class DbNonceStore(NonceStore):
    """Seen nonces in the ``peer_nonces`` table; insert-or-nothing makes the check atomic.

    A replayed request is refused even after a restart, and even when another
    server process of the same node (sharing its PostgreSQL database) saw it.
    """

    def __init__(self, store: FederationStore) -> None:
        self._store = store

    def check_and_add(self, key_id: str, nonce: str, *, expires_at: float, now: float) -> bool:
        return self._store.check_nonce(key_id, nonce, expires_at=expires_at, now=now)


class DbInbox(Inbox):
    """Whole messages in the ``peer_messages`` table, so a restarted party reads them again.

    ``get`` wakes at once for messages stored by this process and polls the
    database every ``poll_seconds`` for those stored by another process.
    """

    def __init__(
        self,
        store: FederationStore,
        clock: Clock,
        *,
        poll_seconds: float = 0.05,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._poll = poll_seconds
        self._monotonic = monotonic
        self._cond = threading.Condition()

    def put(self, key: MessageKey, payload: bytes) -> bool:
        new = self._store.put_message(key, payload, at=self._clock())
        if new:
            with self._cond:
                self._cond.notify_all()
        return new

    def get(self, key: MessageKey, *, timeout: float | None = None) -> bytes:
        end = None if timeout is None else self._monotonic() + timeout
        while True:
            payload = self._store.get_message(key)
            if payload is not None:
                return payload
            left = None if end is None else end - self._monotonic()
            if left is not None and left <= 0:
                raise Unavailable(f"no message {key[3]!r} from {key[1]!r} within {timeout} s")
            with self._cond:
                self._cond.wait(self._poll if left is None else min(self._poll, left))

    def discard(self, collab_id: str) -> int:
        return self._store.discard_messages(collab_id)


__all__ = ["DbInbox", "DbNonceStore"]
