"""``Federation``: a node's peers, transport stores, collaborations and their worker, wired."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import ProtocolAbort
from insitu.federation.inbound import PeerInbound
from insitu.federation.signing import RefusalReason, RequestRefused, verify_request
from insitu.node.clock import Clock
from insitu.node.federation.collaborations import Collaborations
from insitu.node.federation.computations import DatasetFiles
from insitu.node.federation.db_stores import DbInbox, DbNonceStore
from insitu.node.federation.outbox import Outbox
from insitu.node.federation.peer_client import PeerClient
from insitu.node.federation.peers import Peers
from insitu.node.federation.records import Collaboration, Peer
from insitu.node.federation.runner import CollaborationRunner
from insitu.node.federation.spool import Spool, SpoolingReassembler
from insitu.node.federation.store import FederationStore
from insitu.node.services.audit_log import AuditLog
from insitu.node.services.budgets import Budgets
from insitu.node.services.policies import Policies
from insitu.node.services.results import ResultFiles
from insitu.node.settings import NodeSettings
from insitu.node.store.sql import SqlStore

log = logging.getLogger("insitu.peers")

#: Age after which a spool file left by a stopped node is deleted at start.
SPOOL_MAX_AGE_SECONDS = 3600.0

#: Frames up to this size record their nonce and store their message in one transaction.
ONE_TRANSACTION_FRAME_BYTES = 1 << 20


class Federation:
    """Everything a node needs to work with other nodes.

    Attributes: :attr:`peers` (the owner's register), :attr:`collaborations`
    (the lifecycle service; ``policies`` may approve this node's parts),
    :attr:`runner` (the background worker), and the DB-backed :attr:`nonces`
    and :attr:`inbox` the peer routes use.
    """

    def __init__(
        self,
        settings: NodeSettings,
        store: SqlStore,
        audit: AuditLog,
        clock: Clock,
        key: SigningKey,
        datasets: DatasetFiles,
        budgets: Budgets,
        *,
        policies: Policies | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._settings = settings
        messages_dir = settings.data_dir / "peer-messages"
        self.store = FederationStore(store, message_dir=messages_dir)
        self.peers = Peers(self.store, audit, clock, key, insecure_peers=settings.insecure_peers)
        self.nonces = DbNonceStore(self.store)
        spool = Spool(messages_dir)
        self.reassembler = (
            SpoolingReassembler(spool, max_message_bytes=max_message_bytes)
            if max_message_bytes
            else SpoolingReassembler(spool)
        )
        self.inbox = DbInbox(self.store, clock, reassembler=self.reassembler)
        self.client = PeerClient(key, ca_file=settings.peer_ca_file)
        #: Large binary parts of collaboration results, by content hash.
        self.results = ResultFiles(settings.results_dir / "collaborations")
        self.collaborations = Collaborations(
            self.store, store, audit, clock, key, self.peers, policies=policies
        )
        self.outbox = Outbox(self.store, self.peers, self.client)
        self.runner = CollaborationRunner(
            self.collaborations,
            self.outbox,
            self.peers,
            self.inbox,
            key,
            self.client,
            datasets,
            budgets,
            self.results,
        )
        self.collaborations.on_change = self.runner.wake

    def start(self) -> None:
        """Start the background worker (the server calls this); warns about plain HTTP.

        Spool files of messages that a stopped node was receiving are deleted
        once they are an hour old (their senders retried or gave up long ago).
        """
        if self._settings.insecure_peers:
            log.warning(
                "node %s accepts plain-HTTP peers (insecure_peers): use only for testing",
                self._settings.name,
            )
        swept = self.reassembler.spool.sweep(older_than=SPOOL_MAX_AGE_SECONDS)
        if swept:
            log.warning("removed %d spool files left by an earlier run", swept)
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()

    def close(self) -> None:
        self.runner.stop()
        self.client.close()
        self.reassembler.spool.discard()

    # -- inbound -------------------------------------------------------------------
    def verify_control(
        self, *, headers: Mapping[str, str], method: str, path: str, body: bytes
    ) -> Peer:
        """Check a signed control call; the signer must be an active registered peer.

        Raises
        ------
        RequestRefused
            Unknown or suspended key, bad signature, stale timestamp, replay.
        """

        def lookup(key_id: str) -> VerifyKey | None:
            peer = self.peers.active_by_key(key_id)
            return None if peer is None else peer.verify_key

        key_id = verify_request(
            headers, method=method, path=path, body=body, now=time.time(),
            lookup_key=lookup, nonces=self.nonces,
        )  # fmt: skip
        peer = self.peers.active_by_key(key_id)
        if peer is None:  # suspended between the two look-ups
            raise RequestRefused(RefusalReason.UNKNOWN_KEY, key_id=key_id)
        return peer

    def accept_frame(
        self, collab_id: str, *, headers: Mapping[str, str], method: str, path: str, body: bytes
    ) -> bool:
        """Verify, reassemble and store one protocol frame (see :class:`PeerInbound`).

        The collaboration and its peers are read first, outside any write
        transaction, so frames that are not well signed never take the write
        lock. A small frame then records its nonce and stores the message it
        completes in one transaction (a frame refused as a protocol violation
        still commits its nonce, so a replay of it is refused as a replay); a
        large one holds no write lock while it is reassembled.
        """
        collab = self.store.find_collab(collab_id)
        me = collab.job.me if collab is not None else "-"
        keys = self.collaborations.accepting_keys_of(collab)
        if collab is not None and keys is None:
            self._refuse_signed(collab, headers=headers, method=method, path=path, body=body)
        inbound = PeerInbound(
            me=me,
            party_keys=lambda _collab_id: keys,
            nonces=self.nonces,
            inbox=self.inbox,
            reassembler=self.reassembler,
        )
        if len(body) > ONE_TRANSACTION_FRAME_BYTES:
            return inbound.handle(
                collab_id, headers=headers, method=method, path=path, body=body, now=time.time()
            )
        abort: ProtocolAbort
        with self.store.sql.transaction():  # begins at the nonce, once the signature holds
            try:
                return inbound.handle(
                    collab_id, headers=headers, method=method, path=path, body=body,
                    now=time.time(),
                )  # fmt: skip
            except ProtocolAbort as exc:
                abort = exc
        raise abort

    def _refuse_signed(
        self,
        collab: Collaboration,
        *,
        headers: Mapping[str, str],
        method: str,
        path: str,
        body: bytes,
    ) -> None:
        """A party's frame for a collaboration not accepting messages here: say why (409),
        but only to a party whose signature holds; anyone else learns nothing (401)."""
        keys = {
            p.verify_key.fingerprint(): p.verify_key
            for p in collab.spec.parties
            if p.name != collab.job.me and self.peers.active_by_key(p.verify_key.fingerprint())
        }
        verify_request(
            headers, method=method, path=path, body=body, now=time.time(),
            lookup_key=keys.get, nonces=self.nonces,
        )  # fmt: skip
        job = collab.job
        why = f": {job.reason}" if job.reason else ""
        raise ProtocolAbort(
            f"collaboration {collab.collab_id!r} is {job.state.value} at {job.me}{why}"
        )


__all__ = ["Federation"]
