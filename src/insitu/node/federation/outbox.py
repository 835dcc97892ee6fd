"""Delivers stored control notices to peers, retrying until they arrive or expire.

A notice is written in the same transaction as the state change it reports,
so a crash can delay it but never lose it. Receivers treat repeats as
no-ops, so delivering twice is safe. Answers 409 and 422 (the peer refuses
the notice for good) end the retries; anything else — no answer, 5xx, or a
peer that does not know the collaboration or this node yet — is retried with
exponential backoff until the notice's expiry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from insitu.errors import InvalidInput
from insitu.node.federation.peer_client import PeerClient
from insitu.node.federation.peers import Peers
from insitu.node.federation.records import OutboxItem
from insitu.node.federation.store import FederationStore

log = logging.getLogger("insitu.peers")

_FINAL = frozenset({409, 422})


class Outbox:
    """Sends due notices; :meth:`deliver_due` is called by the collaboration worker."""

    def __init__(
        self,
        store: FederationStore,
        peers: Peers,
        client: PeerClient,
        *,
        clock: Callable[[], float] = time.time,
        max_backoff: float = 2.0,
    ) -> None:
        self._store = store
        self._peers = peers
        self._client = client
        self._clock = clock
        self._max_backoff = max_backoff

    def deliver_due(self) -> int:
        """Try every due notice once; return how many were delivered.

        Each peer's notices go in order, on one thread per peer, so a slow or
        unreachable peer delays only its own notices (an approval reaches the
        others in one round trip, not one per peer).
        """
        by_peer: dict[str, list[OutboxItem]] = {}
        for item in self._store.due(now=self._clock()):
            by_peer.setdefault(item.peer, []).append(item)
        if len(by_peer) <= 1:
            return sum(self._deliver(item) for items in by_peer.values() for item in items)
        with ThreadPoolExecutor(min(len(by_peer), 8), thread_name_prefix="insitu-notice") as pool:
            counts = pool.map(lambda items: sum(self._deliver(i) for i in items), by_peer.values())
            return sum(counts)

    def _deliver(self, item: OutboxItem) -> bool:
        now = self._clock()
        if now > item.expires_at:
            log.warning("notice to %s about %s expired undelivered", item.peer, item.collab_id)
            self._store.settle(item.id, delivered=True, error="expired undelivered")
            return False
        problem = self._post(item)
        if problem is None:
            self._store.settle(item.id, delivered=True)
            return True
        final, error = problem
        if final:
            log.warning("peer %s refused notice on %s: %s", item.peer, item.collab_id, error)
            self._store.settle(item.id, delivered=True, error=error)
            return False
        backoff = min(0.1 * 2**item.attempts, self._max_backoff)
        self._store.settle(item.id, delivered=False, error=error, next_at=now + backoff)
        return False

    def _post(self, item: OutboxItem) -> tuple[bool, str] | None:
        collab = self._store.find_collab(item.collab_id)
        if collab is None:
            return True, "collaboration is gone"
        try:
            party = collab.spec.party(item.peer)
        except InvalidInput:
            return True, "no such party"
        if self._peers.active_by_key(party.verify_key.fingerprint()) is None:
            return False, "peer is not an active registered peer"
        try:
            response = self._client.post_json(party.url, item.path, item.body)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if response.status_code < 300:
            return None
        return response.status_code in _FINAL, f"HTTP {response.status_code}: {response.text[:300]}"


__all__ = ["Outbox"]
