"""Database-backed :class:`NonceStore` and :class:`Inbox`, shared by every process of a node."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from insitu.errors import Unavailable
from insitu.federation.inbox import Inbox
from insitu.federation.messages import MessageKey, Reassembler
from insitu.federation.nonces import NonceStore
from insitu.node.clock import Clock
from insitu.node.federation.spool import SpoolingReassembler
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
    """Whole messages in the ``peer_messages`` table (large ones as files), so a restarted
    party reads them again.

    A message this process stores is also handed from memory to a reader in
    this process, right after its commit: :meth:`get` takes it from there
    without touching the database. At most ``handoff_bytes`` are held so
    (oldest dropped first; a message over the bound is not held); a reader
    takes its message out, so asking again reads the store. Messages stored
    by another process are found by polling the database every
    ``poll_seconds``. With the ``reassembler`` of the node's route,
    :meth:`discard` also drops a collaboration's incomplete messages, and a
    :class:`SpoolingReassembler`'s spooled file is adopted instead of written.
    """

    def __init__(
        self,
        store: FederationStore,
        clock: Clock,
        *,
        poll_seconds: float = 0.05,
        handoff_bytes: int = 256 << 20,
        reassembler: Reassembler | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if handoff_bytes < 0:
            raise ValueError("handoff_bytes must not be negative")
        self._store = store
        self._reassembler = reassembler
        self._clock = clock
        self._poll = poll_seconds
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._handoff: OrderedDict[MessageKey, bytes] = OrderedDict()
        self._handoff_max = handoff_bytes
        self._handoff_size = 0

    def put(self, key: MessageKey, payload: bytes) -> bool:
        return self._put(key, payload, None)

    def put_checked(self, key: MessageKey, payload: bytes, *, sha256: bytes) -> bool:
        return self._put(key, payload, sha256)

    def _put(self, key: MessageKey, payload: bytes, sha256: bytes | None) -> bool:
        payload = bytes(payload)
        spooled = (
            self._reassembler.spool.take(key)
            if isinstance(self._reassembler, SpoolingReassembler)
            else None
        )
        new = self._store.put_message(
            key, payload, at=self._clock(), sha256=sha256, spooled=spooled
        )
        if new:  # inside a caller's transaction: only once that commits
            self._store.sql.after_commit(lambda: self._hand_off(key, payload))
        return new

    def _hand_off(self, key: MessageKey, payload: bytes) -> None:
        with self._cond:
            if len(payload) <= self._handoff_max and key not in self._handoff:
                self._handoff[key] = payload
                self._handoff_size += len(payload)
                while self._handoff_size > self._handoff_max:
                    _, dropped = self._handoff.popitem(last=False)
                    self._handoff_size -= len(dropped)
            self._cond.notify_all()

    def _take(self, key: MessageKey) -> bytes | None:
        """The message handed off under ``key``, removed; call with ``_cond`` held."""
        payload = self._handoff.pop(key, None)
        if payload is not None:
            self._handoff_size -= len(payload)
        return payload

    @property
    def held_bytes(self) -> int:
        """Bytes of stored messages held in memory for readers of this process."""
        with self._cond:
            return self._handoff_size

    def get(self, key: MessageKey, *, timeout: float | None = None) -> bytes:
        end = None if timeout is None else self._monotonic() + timeout
        while True:
            with self._cond:
                payload = self._take(key)
            if payload is None:
                payload = self._store.get_message(key)
            if payload is not None:
                return payload
            left = None if end is None else end - self._monotonic()
            if left is not None and left <= 0:
                raise Unavailable(f"no message {key[3]!r} from {key[1]!r} within {timeout} s")
            with self._cond:
                if key not in self._handoff:  # else stored since the look-up: take it now
                    self._cond.wait(self._poll if left is None else min(self._poll, left))

    def discard(self, collab_id: str) -> int:
        if self._reassembler is not None:
            self._reassembler.discard(collab_id)
        with self._cond:
            for key in [k for k in self._handoff if k[0] == collab_id]:
                self._take(key)
        return self._store.discard_messages(collab_id)


__all__ = ["DbInbox", "DbNonceStore"]
