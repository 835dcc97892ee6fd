"""The receiver of ECDH-PSI over ristretto255: blinds its items, unblinds, matches.

Protocol (semi-honest, after Huberman–Franklin–Hogg 1999 and Ion et al. 2020,
"On Deploying Secure Computing: Private Intersection-Sum-with-Cardinality")::

    R → S  HELLO          mode, reveal flag
    S → R  SENDER_HELLO   sender's set size, limb keys (intersection-sum)
    R → S  BLINDED*       a · H(x) for each receiver item x, in input order
    S → R  SENDER_ITEMS*  tag(b · H(y)) [+ encrypted payload | + ElGamal(value)]
    S → R  REBLINDED*     b · a · H(x), in order (or shuffled: CARDINALITY, SUM)
    R → S  AGGREGATE | MATCHES   (SUM, or INTERSECTION with reveal_to_both)

The receiver unblinds ``b·a·H(x)`` with ``a⁻¹`` and compares tags. ``H`` is
RFC 9496 hash-to-group; ``a`` and ``b`` are fresh uniform scalars per run;
tags are 11-byte BLAKE2b digests (false match chance below n_R·n_S / 2^88).

What the receiver learns: the sender's set size, and per mode the matched
positions of its own items (INTERSECTION, PAYLOAD, plus the matched
payloads), or only the intersection size (CARDINALITY, SUM). Under DDH in
ristretto255 (random-oracle ``H``) nothing more. The sender learns the
receiver's set size, and what :mod:`.sender` states per mode.

Failures: a message of the wrong kind, run, order or length, an invalid
group element, or a payload that fails authentication raises
:class:`~insitu.errors.ProtocolAbort`; a method called out of stage raises
:class:`~insitu.errors.ProtocolAbort` as well.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from insitu.crypto import elgamal
from insitu.crypto import ristretto as group
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort
from insitu.protocols.psi import kernels
from insitu.protocols.psi import messages as m
from insitu.protocols.psi.modes import Mode, ReceiverOutput
from insitu.protocols.psi.wire import parse_sender_hello, parse_sender_items

PAYLOAD_NONCE = bytes(12)
MAX_GROUPS = 4096


class PsiReceiver:
    """Receiver side of ECDH-PSI; see the module docstring for the protocol.

    Parameters
    ----------
    mode:
        What the run reveals (:class:`Mode`).
    reveal_to_both:
        In ``INTERSECTION`` mode, also tell the sender which of its items matched.
    groups:
        ``SUM`` mode: the number of receiver groups (categories ``0..groups-1``,
        at most 4096); counts and sums then come per group. Each blinded
        element carries the receiver's ElGamal encryption of its group, which
        the sender re-randomises and shuffles along; the receiver learns the
        intersection size per group (so a group with a single receiver row
        reveals whether that row matched).
    rng:
        Source of the fresh blinding scalar and of re-randomisation.
    mapper:
        ``mapper(kernel, chunks)``; pass an engine's ``map`` to run the
        blinding kernels in parallel.
    """

    def __init__(
        self,
        *,
        mode: Mode,
        reveal_to_both: bool = False,
        groups: int = 0,
        rng: Rng = system_rng,
        mapper: kernels.Mapper = kernels.serial_map,
    ) -> None:
        if not isinstance(mode, Mode):
            raise TypeError("mode must be a Mode")
        if reveal_to_both and mode is not Mode.INTERSECTION:
            raise InvalidInput("reveal_to_both applies to INTERSECTION mode only")
        if groups and mode is not Mode.SUM:
            raise InvalidInput("groups apply to SUM mode only")
        if not 0 <= groups <= MAX_GROUPS:
            raise InvalidInput(f"groups must be between 0 and {MAX_GROUPS}")
        self.mode = mode
        self.reveal_to_both = reveal_to_both
        self.groups = groups
        self._group_keys = elgamal.LimbKeys.generate(1, rng) if groups else None
        self._rng = rng
        self._mapper = mapper
        self._scalar = group.random_scalar(rng)
        self.run_id = rng(m.RUN_ID_BYTES)
        self._stage = "new"
        self._size = 0
        self._sender_size = 0
        self._publics: tuple[bytes, ...] = ()
        self._tags: dict[bytes, int] = {}
        self._extras: list[bytes] = []
        self._matched: list[set[int]] = [set() for _ in range(max(1, groups))]

    def _enter(self, expected: str, new: str) -> None:
        if self._stage != expected:
            raise ProtocolAbort(f"receiver is at stage {self._stage!r}, not {expected!r}")
        self._stage = new

    def hello(self) -> bytes:
        """Stage new → hello: the opening message."""
        self._enter("new", "hello")
        body = struct.pack(">BBH", int(self.mode), 1 if self.reveal_to_both else 0, self.groups)
        if self._group_keys is not None:
            body += self._group_keys.publics[0]
        return m.encode(m.Kind.HELLO, self.run_id, 0, True, 1, body)

    def receive_sender_hello(self, data: bytes) -> None:
        """Stage hello → ready: the sender's size and, for SUM, its limb keys."""
        self._enter("hello", "ready")
        self._sender_size, self._publics = parse_sender_hello(data, self.run_id, self.mode)

    def blind(
        self, chunks: Iterable[Sequence[bytes]], groups: Iterable[Sequence[int]] | None = None
    ) -> Iterator[bytes]:
        """Stage ready → blinded: BLINDED messages, one per chunk of items, the last flagged.

        ``groups`` runs parallel to ``chunks`` with each item's group index
        when the receiver was built with ``groups``.
        """
        self._enter("ready", "blinding")
        if (groups is not None) != bool(self.groups):
            raise InvalidInput("pass group indices exactly when the receiver has groups")
        record = kernels.GROUPED_RECORD if self.groups else m.ELEMENT_BYTES
        blocks: Iterable[bytes]
        if self._group_keys is not None and groups is not None:
            kernel = kernels.blind_grouped_kernel(self._scalar, self._group_keys.secrets[0])
            blocks = self._mapper(kernel, self._group_jobs(chunks, groups))
        else:
            blocks = self._mapper(kernels.blind_kernel(self._scalar), chunks)

        def counted() -> Iterator[bytes]:
            for block in blocks:
                self._size += len(block) // record
                yield block

        yield from m.element_messages(m.Kind.BLINDED, self.run_id, counted(), record)
        self._stage = "blinded"

    def _group_jobs(
        self, chunks: Iterable[Sequence[bytes]], groups: Iterable[Sequence[int]]
    ) -> Iterator[tuple[Sequence[bytes], list[int], bytes]]:
        for items, block in zip(chunks, groups, strict=True):
            indices = list(block)
            if len(indices) != len(items):
                raise InvalidInput("group chunk does not match its item chunk")
            if any(isinstance(g, bool) or not 0 <= g < self.groups for g in indices):
                raise InvalidInput(f"group indices must lie in [0, {self.groups})")
            yield items, indices, self._rng(elgamal.RANDOMNESS_BYTES * len(items))

    def receive_sender_items(self, messages: Iterable[bytes]) -> None:
        """Stage blinded → tagged: the sender's tags (with payloads or ciphertexts)."""
        self._enter("blinded", "tagged")
        check = m.SequenceCheck(m.Kind.SENDER_ITEMS, self.run_id)
        limbs = len(self._publics)
        position = 0
        for data in messages:
            message = m.decode(data, expect=m.Kind.SENDER_ITEMS)
            check.accept(message)
            for tag, extra in parse_sender_items(message, self.mode, limbs):
                if extra is not None:
                    if tag in self._tags:
                        raise ProtocolAbort("sender sent a repeated tag")
                    self._extras.append(extra)
                self._tags.setdefault(tag, position)
                position += 1
        check.require_done()
        if check.records != self._sender_size:
            raise ProtocolAbort("sender sent a different number of items than it announced")

    def receive_reblinded(self, messages: Iterable[bytes]) -> ReceiverOutput:
        """Stage tagged → done: unblind the receiver's elements and match them."""
        self._enter("tagged", "done")
        check = m.SequenceCheck(m.Kind.REBLINDED, self.run_id)
        with_keys = self.mode is Mode.PAYLOAD
        inverse = group.scalar_invert(self._scalar)
        record = m.ELEMENT_BYTES
        kernel: Callable[[bytes], tuple[bytes, Any]]
        if self._group_keys is not None:
            record = kernels.GROUPED_RECORD
            secret = self._group_keys.secrets[0]
            kernel = kernels.unblind_grouped_kernel(inverse, secret, self.groups)
        else:
            kernel = kernels.unblind_kernel(inverse, with_keys=with_keys)
        matched: list[int] = []
        payloads: dict[int, bytes] = {}
        position = 0
        for tags, keys in self._mapper(kernel, m.element_bodies(messages, check, record)):
            for i in range(len(tags) // m.TAG_BYTES):
                index = self._tags.get(tags[m.TAG_BYTES * i : m.TAG_BYTES * (i + 1)])
                if index is not None:
                    self._matched[keys[i] if self.groups else 0].add(index)
                    if not self.mode.shuffled:
                        matched.append(position)
                    if with_keys:
                        key = keys[kernels.KEY_BYTES * i : kernels.KEY_BYTES * (i + 1)]
                        payloads[position] = self._open(key, self._extras[index])
                position += 1
        check.require_done()
        if check.records != self._size:
            raise ProtocolAbort("sender returned a different number of elements than were sent")
        return ReceiverOutput(
            mode=self.mode,
            cardinality=len(set().union(*self._matched)),
            sender_size=self._sender_size,
            matched=None if self.mode.shuffled else matched,
            payloads=payloads if with_keys else None,
            group_counts=[len(g) for g in self._matched] if self.groups else None,
        )

    def _open(self, key: bytes, sealed: bytes) -> bytes:
        try:
            return ChaCha20Poly1305(key).decrypt(PAYLOAD_NONCE, sealed, self.run_id)
        except InvalidTag:
            raise ProtocolAbort("a payload failed authentication") from None

    def reply(self) -> bytes | None:
        """Stage done → replied: AGGREGATE (SUM), MATCHES (reveal_to_both), else ``None``."""
        self._enter("done", "replied")
        if self.mode is Mode.SUM:
            limbs = len(self._publics)
            body = b""
            for matched in self._matched:
                total = elgamal.add_ciphertexts((self._extras[i] for i in matched), limbs)
                sealed = elgamal.rerandomize(total, self._publics, self._rng)
                body += struct.pack(">Q", len(matched)) + sealed
            return m.encode(m.Kind.AGGREGATE, self.run_id, 0, True, len(self._matched), body)
        if self.reveal_to_both:
            positions = sorted(self._matched[0])
            body = b"".join(struct.pack(">I", p) for p in positions)
            return m.encode(m.Kind.MATCHES, self.run_id, 0, True, len(positions), body)
        return None


__all__ = ["PAYLOAD_NONCE", "PsiReceiver"]
