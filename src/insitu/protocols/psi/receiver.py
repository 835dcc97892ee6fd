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
from collections.abc import Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from insitu.crypto import elgamal
from insitu.crypto import ristretto as group
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import ProtocolAbort
from insitu.protocols.psi import kernels
from insitu.protocols.psi import messages as m
from insitu.protocols.psi.modes import Mode, ReceiverOutput
from insitu.protocols.psi.wire import parse_sender_hello, parse_sender_items

PAYLOAD_NONCE = bytes(12)


class PsiReceiver:
    """Receiver side of ECDH-PSI; see the module docstring for the protocol.

    Parameters
    ----------
    mode:
        What the run reveals (:class:`Mode`).
    reveal_to_both:
        In ``INTERSECTION`` mode, also tell the sender which of its items matched.
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
        rng: Rng = system_rng,
        mapper: kernels.Mapper = kernels.serial_map,
    ) -> None:
        if not isinstance(mode, Mode):
            raise TypeError("mode must be a Mode")
        if reveal_to_both and mode is not Mode.INTERSECTION:
            raise ValueError("reveal_to_both applies to INTERSECTION mode only")
        self.mode = mode
        self.reveal_to_both = reveal_to_both
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
        self._matched_sender: set[int] = set()

    def _enter(self, expected: str, new: str) -> None:
        if self._stage != expected:
            raise ProtocolAbort(f"receiver is at stage {self._stage!r}, not {expected!r}")
        self._stage = new

    def hello(self) -> bytes:
        """Stage new → hello: the opening message."""
        self._enter("new", "hello")
        body = bytes([int(self.mode), 1 if self.reveal_to_both else 0])
        return m.encode(m.Kind.HELLO, self.run_id, 0, True, 1, body)

    def receive_sender_hello(self, data: bytes) -> None:
        """Stage hello → ready: the sender's size and, for SUM, its limb keys."""
        self._enter("hello", "ready")
        self._sender_size, self._publics = parse_sender_hello(data, self.run_id, self.mode)

    def blind(self, chunks: Iterable[Sequence[bytes]]) -> Iterator[bytes]:
        """Stage ready → blinded: BLINDED messages, one per chunk of items, the last flagged."""
        self._enter("ready", "blinding")
        kernel = kernels.blind_kernel(self._scalar)

        def counted() -> Iterator[bytes]:
            for block in self._mapper(kernel, chunks):
                self._size += len(block) // m.ELEMENT_BYTES
                yield block

        yield from m.element_messages(m.Kind.BLINDED, self.run_id, counted())
        self._stage = "blinded"

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
        kernel = kernels.unblind_kernel(group.scalar_invert(self._scalar), with_keys=with_keys)
        matched: list[int] = []
        payloads: dict[int, bytes] = {}
        seen: set[int] = set()
        position = 0
        for tags, keys in self._mapper(kernel, m.element_bodies(messages, check)):
            for i in range(len(tags) // m.TAG_BYTES):
                index = self._tags.get(tags[m.TAG_BYTES * i : m.TAG_BYTES * (i + 1)])
                if index is not None:
                    seen.add(index)
                    if not self.mode.shuffled:
                        matched.append(position)
                    if with_keys:
                        key = keys[kernels.KEY_BYTES * i : kernels.KEY_BYTES * (i + 1)]
                        payloads[position] = self._open(key, self._extras[index])
                position += 1
        check.require_done()
        if check.records != self._size:
            raise ProtocolAbort("sender returned a different number of elements than were sent")
        self._matched_sender = seen
        return ReceiverOutput(
            mode=self.mode,
            cardinality=len(seen),
            sender_size=self._sender_size,
            matched=None if self.mode.shuffled else matched,
            payloads=payloads if with_keys else None,
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
            total = elgamal.add_ciphertexts((self._extras[i] for i in self._matched_sender), limbs)
            sealed = elgamal.rerandomize(total, self._publics, self._rng)
            body = struct.pack(">Q", len(self._matched_sender)) + sealed
            return m.encode(m.Kind.AGGREGATE, self.run_id, 0, True, 1, body)
        if self.reveal_to_both:
            positions = sorted(self._matched_sender)
            body = b"".join(struct.pack(">I", p) for p in positions)
            return m.encode(m.Kind.MATCHES, self.run_id, 0, True, len(positions), body)
        return None


__all__ = ["PAYLOAD_NONCE", "PsiReceiver"]
