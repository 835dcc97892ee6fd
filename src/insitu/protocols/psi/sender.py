"""The sender of ECDH-PSI over ristretto255: tags its own items and re-blinds the receiver's.

See :mod:`insitu.protocols.psi.receiver` for the message flow.

What the sender learns: the receiver's set size; with ``reveal_to_both``
(INTERSECTION) the positions of its matched items, as the receiver reports
them (semi-honest: a receiver that lies is not detected); in SUM mode the
intersection size and the sum of its own values over the intersection. It
learns nothing about non-matching receiver items (DDH in ristretto255).

In CARDINALITY and SUM modes the sender shuffles both the re-blinded
elements and its own tags with a permutation drawn from ``rng``, so the
receiver can link a match neither to its own item nor to the sender's.

Keys of the sender must be distinct in PAYLOAD and SUM modes
(:class:`~insitu.errors.InvalidInput` otherwise). Failures on the receiver's
messages raise :class:`~insitu.errors.ProtocolAbort`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from insitu.crypto import elgamal
from insitu.crypto import ristretto as group
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort
from insitu.protocols.psi import kernels
from insitu.protocols.psi import messages as m
from insitu.protocols.psi.modes import Mode, SenderOutput, permutation
from insitu.protocols.psi.receiver import PAYLOAD_NONCE
from insitu.protocols.psi.wire import MAX_PAYLOAD_BYTES, sender_hello, sender_items

DEFAULT_CHUNK = 1 << 14


class PsiSender:
    """Sender side of ECDH-PSI.

    Parameters
    ----------
    mode:
        Must equal the receiver's mode, or the run aborts.
    size:
        Number of items the sender will contribute (announced to the receiver).
    reveal_to_both:
        Must equal the receiver's flag (INTERSECTION only).
    value_bits:
        SUM mode: values are integers in ``[0, 2^value_bits)``; rounded up to
        whole 16-bit limbs.
    groups:
        SUM mode: number of receiver groups (0: no grouping); must equal the
        receiver's. Sums and counts then come per group.
    rng, mapper, chunk_size:
        Randomness source; ``mapper(kernel, chunks)`` for the kernels; records
        per message when the sender re-chunks (shuffled modes).
    """

    def __init__(
        self,
        *,
        mode: Mode,
        size: int,
        reveal_to_both: bool = False,
        value_bits: int = 32,
        groups: int = 0,
        rng: Rng = system_rng,
        mapper: kernels.Mapper = kernels.serial_map,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if not isinstance(mode, Mode):
            raise TypeError("mode must be a Mode")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("size must be a non-negative integer")
        if not 1 <= value_bits <= 16 * 8:
            raise InvalidInput("value_bits must be between 1 and 128")
        if groups and mode is not Mode.SUM:
            raise InvalidInput("groups apply to SUM mode only")
        self.mode = mode
        self.size = size
        self.groups = groups
        self._group_public = b""
        self.reveal_to_both = reveal_to_both
        self._rng = rng
        self._mapper = mapper
        self._chunk = chunk_size
        self._scalar = group.random_scalar(rng)
        limbs = -(-value_bits // elgamal.LIMB_BITS) if mode is Mode.SUM else 0
        self._keys = elgamal.LimbKeys.generate(limbs, rng) if limbs else None
        self.run_id = b""
        self.receiver_size = 0
        self._stage = "new"

    @property
    def expects_reply(self) -> bool:
        """Whether the receiver sends a final AGGREGATE or MATCHES message."""
        return self.mode is Mode.SUM or self.reveal_to_both

    def _enter(self, expected: str, new: str) -> None:
        if self._stage != expected:
            raise ProtocolAbort(f"sender is at stage {self._stage!r}, not {expected!r}")
        self._stage = new

    def receive_hello(self, data: bytes) -> bytes:
        """Stage new → hello: check the receiver's HELLO, answer with SENDER_HELLO."""
        self._enter("new", "hello")
        message = m.decode(data, expect=m.Kind.HELLO)
        body = message.body
        expected = 4 + (m.ELEMENT_BYTES if self.groups else 0)
        if message.seq != 0 or not message.last or message.count != 1 or len(body) != expected:
            raise ProtocolAbort("malformed HELLO, or a different grouping than agreed")
        (groups,) = struct.unpack_from(">H", body, 2)
        if (body[0], bool(body[1]), groups) != (int(self.mode), self.reveal_to_both, self.groups):
            raise ProtocolAbort("receiver asked for a different mode than the sender agreed to")
        if self.groups:
            self._group_public = body[4:]
            if not group.is_valid(self._group_public):
                raise ProtocolAbort("HELLO carries an invalid public key")
        self.run_id = message.run_id
        publics = self._keys.publics if self._keys else ()
        return sender_hello(self.run_id, self.size, publics)

    def setup(
        self, chunks: Iterable[Sequence[bytes]], extras: Iterable[Sequence[Any]] | None = None
    ) -> Iterator[bytes]:
        """Stage hello → setup: SENDER_ITEMS messages for the sender's own items.

        ``extras`` runs parallel to ``chunks``: payload bytes per item (PAYLOAD)
        or integer values per item (SUM); ``None`` otherwise.
        """
        self._enter("hello", "setting-up")
        needs_extras = self.mode in (Mode.PAYLOAD, Mode.SUM)
        if needs_extras != (extras is not None):
            raise InvalidInput(
                f"{self.mode.name} mode {'needs' if needs_extras else 'takes no'} extras"
            )
        blocks: Iterator[tuple[bytes, list[bytes] | None]]
        if self.mode is Mode.SUM:
            blocks = self._sum_blocks(chunks, extras or ())
        elif self.mode is Mode.PAYLOAD:
            blocks = self._payload_blocks(chunks, extras or ())
        else:
            kernel = kernels.tag_kernel(self._scalar, with_keys=False)
            blocks = ((tags, None) for tags, _ in self._mapper(kernel, chunks))
        if self.mode.shuffled:
            blocks = self._shuffled(blocks)
        yield from self._emit_items(blocks)
        self._stage = "setup"

    def _sum_blocks(
        self, chunks: Iterable[Sequence[bytes]], values: Iterable[Sequence[Any]]
    ) -> Iterator[tuple[bytes, list[bytes]]]:
        assert self._keys is not None
        size = elgamal.ciphertext_bytes(len(self._keys.secrets))

        def jobs() -> Iterator[tuple[Sequence[bytes], Sequence[int], bytes]]:
            for items, vals in zip(chunks, values, strict=True):
                if len(items) != len(vals):
                    raise InvalidInput("values chunk does not match its key chunk")
                yield items, list(vals), self._rng(elgamal.RANDOMNESS_BYTES * len(items))

        kernel = kernels.sum_items_kernel(self._scalar, self._keys.secrets, elgamal.LIMB_BITS)
        for tags, cts in self._mapper(kernel, jobs()):
            yield tags, [cts[i : i + size] for i in range(0, len(cts), size)]

    def _payload_blocks(
        self, chunks: Iterable[Sequence[bytes]], payloads: Iterable[Sequence[Any]]
    ) -> Iterator[tuple[bytes, list[bytes]]]:
        kernel = kernels.tag_kernel(self._scalar, with_keys=True)
        results = self._mapper(kernel, chunks)
        for (tags, keys), block in zip(results, payloads, strict=True):
            if len(block) * m.TAG_BYTES != len(tags):
                raise InvalidInput("payload chunk does not match its key chunk")
            sealed = []
            for i, payload in enumerate(block):
                if not isinstance(payload, bytes) or len(payload) > MAX_PAYLOAD_BYTES:
                    raise InvalidInput(f"payloads must be bytes of at most {MAX_PAYLOAD_BYTES}")
                aead = ChaCha20Poly1305(keys[32 * i : 32 * (i + 1)])
                sealed.append(aead.encrypt(PAYLOAD_NONCE, payload, self.run_id))
            yield tags, sealed

    def _shuffled(
        self, blocks: Iterable[tuple[bytes, list[bytes] | None]]
    ) -> Iterator[tuple[bytes, list[bytes] | None]]:
        tags = bytearray()
        extras: list[bytes] = []
        for block_tags, block_extras in blocks:
            tags += block_tags
            extras.extend(block_extras or ())
        order = permutation(len(tags) // m.TAG_BYTES, self._rng)
        t = m.TAG_BYTES
        for start in range(0, len(order), self._chunk):
            idx = order[start : start + self._chunk]
            yield (
                b"".join(tags[t * i : t * (i + 1)] for i in idx),
                [extras[i] for i in idx] if extras else None,
            )

    def _emit_items(self, blocks: Iterable[tuple[bytes, list[bytes] | None]]) -> Iterator[bytes]:
        unique_keys = self.mode in (Mode.SUM, Mode.PAYLOAD)
        every_tag = bytearray()
        pending: tuple[bytes, list[bytes] | None] | None = None
        seq = 0
        total = 0
        for block in blocks:
            if unique_keys:
                every_tag += block[0]
            total += len(block[0]) // m.TAG_BYTES
            if pending is not None:
                yield sender_items(self.run_id, seq, False, pending[0], pending[1], self.mode)
                seq += 1
            pending = block
        if total != self.size:
            raise InvalidInput(f"sender announced {self.size} items but supplied {total}")
        # Checked before the last message goes out, so the receiver never completes.
        if unique_keys and _has_repeats(bytes(every_tag)):
            raise InvalidInput(f"sender keys must be distinct in {self.mode.name} mode")
        tags, extras = pending if pending is not None else (b"", [])
        yield sender_items(self.run_id, seq, True, tags, extras, self.mode)

    def reblind(self, messages: Iterable[bytes]) -> Iterator[bytes]:
        """Stage setup → reblinded: REBLINDED messages for the receiver's BLINDED ones."""
        self._enter("setup", "reblinding")
        check = m.SequenceCheck(m.Kind.BLINDED, self.run_id)
        record = kernels.GROUPED_RECORD if self.groups else m.ELEMENT_BYTES
        bodies = m.element_bodies(messages, check, record)
        blocks: Iterable[bytes]
        if self.groups:
            kernel = kernels.reblind_grouped_kernel(self._scalar, self._group_public)
            jobs = ((b, self._rng(elgamal.RANDOMNESS_BYTES * (len(b) // record))) for b in bodies)
            blocks = self._mapper(kernel, jobs)
        else:
            blocks = self._mapper(kernels.reblind_kernel(self._scalar), bodies)
        if self.mode.shuffled:
            blocks = self._shuffled_records(blocks, record)

        def checked() -> Iterator[bytes]:
            yield from blocks
            check.require_done()
            self.receiver_size = check.records

        yield from m.element_messages(m.Kind.REBLINDED, self.run_id, checked(), record)
        self._stage = "reblinded"

    def _shuffled_records(self, blocks: Iterable[bytes], size: int) -> Iterator[bytes]:
        everything = b"".join(blocks)
        order = permutation(len(everything) // size, self._rng)
        for start in range(0, len(order), self._chunk):
            yield b"".join(
                everything[size * i : size * (i + 1)] for i in order[start : start + self._chunk]
            )

    def finish(self, reply: bytes | None = None) -> SenderOutput:
        """Stage reblinded → done: read the receiver's reply, if the mode has one."""
        self._enter("reblinded", "done")
        if not self.expects_reply:
            if reply is not None:
                raise ProtocolAbort("this mode has no reply message")
            return SenderOutput(mode=self.mode, receiver_size=self.receiver_size)
        if reply is None:
            raise ProtocolAbort("missing the receiver's reply")
        if self.mode is Mode.SUM:
            return self._finish_sum(reply)
        message = m.decode(reply, expect=m.Kind.MATCHES)
        m.SequenceCheck(m.Kind.MATCHES, self.run_id).accept(message)
        positions = [p for (p,) in struct.iter_unpack(">I", _exact(message, 4))]
        if any(p >= self.size for p in positions) or positions != sorted(set(positions)):
            raise ProtocolAbort("MATCHES lists positions the sender does not have")
        return SenderOutput(mode=self.mode, receiver_size=self.receiver_size, matched=positions)

    def _finish_sum(self, reply: bytes) -> SenderOutput:
        assert self._keys is not None
        message = m.decode(reply, expect=m.Kind.AGGREGATE)
        m.SequenceCheck(m.Kind.AGGREGATE, self.run_id).accept(message)
        record = 8 + elgamal.ciphertext_bytes(len(self._keys.secrets))
        if message.count != max(1, self.groups):
            raise ProtocolAbort("AGGREGATE has the wrong number of groups")
        counts: list[int] = []
        totals: list[int] = []
        for part in m.split_fixed(message, record):
            (count,) = struct.unpack_from(">Q", part)
            if count > min(self.size, self.receiver_size):
                raise ProtocolAbort("AGGREGATE claims more matches than there are items")
            counts.append(count)
            totals.append(elgamal.decrypt_sum(part[8:], self._keys.secrets, max_terms=count))
        return SenderOutput(
            mode=self.mode,
            receiver_size=self.receiver_size,
            cardinality=sum(counts),
            total=sum(totals),
            group_counts=counts if self.groups else None,
            group_totals=totals if self.groups else None,
        )


def _has_repeats(tags: bytes) -> bool:
    """Whether a block of fixed-size tags holds the same tag twice (sorts, no Python set)."""
    rows = np.frombuffer(tags, dtype=np.uint8).reshape(-1, m.TAG_BYTES)
    return len(np.unique(rows, axis=0)) != len(rows)


def _exact(message: m.Message, size: int) -> bytes:
    if len(message.body) != message.count * size:
        raise ProtocolAbort(f"{message.kind.name} body does not match its count")
    return message.body


__all__ = ["DEFAULT_CHUNK", "PsiSender"]
