"""Pure, picklable batch kernels of ECDH-PSI: one call blinds or tags a whole chunk.

The parties hand these to a mapper (``map`` by default, or an engine's
``map`` that spreads chunks over processes or a cluster). Each kernel sees
only its chunk and the scalar it needs; it keeps no state. A worker process
therefore holds a party's blinding scalar while it runs: run kernels only on
machines of that party.

Tags and payload keys are derived from ``F(x) = k_S · H(x)`` with BLAKE2b under
distinct personalisation strings, so a tag reveals nothing about the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from typing import Any, TypeVar

from insitu.crypto import elgamal
from insitu.crypto import ristretto as group
from insitu.protocols.psi.messages import ELEMENT_BYTES, TAG_BYTES

DOMAIN = b"insitu/psi/v1/hash-to-group"
KEY_BYTES = 32
_TAG_PERSON = b"insitu-psi-tag"
_KEY_PERSON = b"insitu-psi-key"

C = TypeVar("C")
R = TypeVar("R")
#: ``mapper(kernel, chunks)`` applies ``kernel`` to each chunk and yields results in order.
Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]


def serial_map(kernel: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
    """The default mapper: apply ``kernel`` to each chunk in this process, in order."""
    for chunk in chunks:
        yield kernel(chunk)


def derive(elements: bytes, *, with_keys: bool) -> tuple[bytes, bytes]:
    """Tags (and payload keys when asked) of a block of 32-byte elements ``F(x)``."""
    tags = bytearray()
    keys = bytearray()
    blake2b = hashlib.blake2b
    for start in range(0, len(elements), ELEMENT_BYTES):
        element = elements[start : start + ELEMENT_BYTES]
        tags += blake2b(element, digest_size=TAG_BYTES, person=_TAG_PERSON).digest()
        if with_keys:
            keys += blake2b(element, digest_size=KEY_BYTES, person=_KEY_PERSON).digest()
    return bytes(tags), bytes(keys)


def _blind(items: Sequence[bytes], scalar: bytes) -> bytes:
    return group.hash_mult_batch(items, scalar, domain=DOMAIN)


def _reblind(elements: bytes, scalar: bytes) -> bytes:
    return group.mult_batch(elements, scalar)


def _tag_items(items: Sequence[bytes], scalar: bytes, with_keys: bool) -> tuple[bytes, bytes]:
    return derive(group.hash_mult_batch(items, scalar, domain=DOMAIN), with_keys=with_keys)


def _unblind(elements: bytes, inverse: bytes, with_keys: bool) -> tuple[bytes, bytes]:
    return derive(group.mult_batch(elements, inverse), with_keys=with_keys)


def _sum_items(
    chunk: tuple[Sequence[bytes], Sequence[int], bytes],
    scalar: bytes,
    secrets: tuple[bytes, ...],
    limb_bits: int,
) -> tuple[bytes, bytes]:
    items, values, randomness = chunk
    tags, _ = _tag_items(items, scalar, False)
    return tags, elgamal.encrypt_batch(values, secrets, randomness, limb_bits=limb_bits)


GROUPED_RECORD = ELEMENT_BYTES + elgamal.ciphertext_bytes(1)


def interleave(first: bytes, first_size: int, second: bytes, second_size: int) -> bytes:
    """Records ``first[i] ‖ second[i]`` from two blocks of fixed-size records."""
    count = len(first) // first_size
    return b"".join(
        first[first_size * i : first_size * (i + 1)]
        + second[second_size * i : second_size * (i + 1)]
        for i in range(count)
    )


def split_records(records: bytes, first_size: int, record: int) -> tuple[bytes, bytes]:
    """Inverse of :func:`interleave`: the first parts and the second parts, each joined."""
    first = b"".join(records[i : i + first_size] for i in range(0, len(records), record))
    second = b"".join(records[i + first_size : i + record] for i in range(0, len(records), record))
    return first, second


@lru_cache(maxsize=4)
def _group_table(groups: int) -> dict[bytes, int]:
    return elgamal.small_table(groups)


def _blind_grouped(
    chunk: tuple[Sequence[bytes], Sequence[int], bytes], scalar: bytes, secret: bytes
) -> bytes:
    items, groups, randomness = chunk
    elements = group.hash_mult_batch(items, scalar, domain=DOMAIN)
    cts = elgamal.encrypt_batch(groups, (secret,), randomness)
    return interleave(elements, ELEMENT_BYTES, cts, elgamal.ciphertext_bytes(1))


def _reblind_grouped(chunk: tuple[bytes, bytes], scalar: bytes, public: bytes) -> bytes:
    records, randomness = chunk
    elements, cts = split_records(records, ELEMENT_BYTES, GROUPED_RECORD)
    fresh = elgamal.rerandomize_batch(cts, public, randomness)
    size = elgamal.ciphertext_bytes(1)
    return interleave(group.mult_batch(elements, scalar), ELEMENT_BYTES, fresh, size)


def _unblind_grouped(
    records: bytes, inverse: bytes, secret: bytes, groups: int
) -> tuple[bytes, list[int]]:
    elements, cts = split_records(records, ELEMENT_BYTES, GROUPED_RECORD)
    tags, _ = derive(group.mult_batch(elements, inverse), with_keys=False)
    return tags, elgamal.decrypt_small_batch(cts, secret, _group_table(groups))


def blind_grouped_kernel(
    scalar: bytes, secret: bytes
) -> Callable[[tuple[Sequence[bytes], Sequence[int], bytes]], bytes]:
    """Kernel: (items, group indices, randomness) → ``k·H(x) ‖ Enc_R(group)`` records."""
    return partial(_blind_grouped, scalar=scalar, secret=secret)


def reblind_grouped_kernel(scalar: bytes, public: bytes) -> Callable[[tuple[bytes, bytes]], bytes]:
    """Kernel: (records, randomness) → re-blinded elements with re-randomised group ciphertexts."""
    return partial(_reblind_grouped, scalar=scalar, public=public)


def unblind_grouped_kernel(
    inverse: bytes, secret: bytes, groups: int
) -> Callable[[bytes], tuple[bytes, list[int]]]:
    """Kernel: grouped records → (tags of ``k_S·H(x)``, decrypted group indices)."""
    return partial(_unblind_grouped, inverse=inverse, secret=secret, groups=groups)


def blind_kernel(scalar: bytes) -> Callable[[Sequence[bytes]], bytes]:
    """Kernel: items → ``k · H(item)`` for each, concatenated (receiver, first step)."""
    return partial(_blind, scalar=scalar)


def reblind_kernel(scalar: bytes) -> Callable[[bytes], bytes]:
    """Kernel: elements → ``k · P`` for each; aborts on an invalid element (sender)."""
    return partial(_reblind, scalar=scalar)


def tag_kernel(
    scalar: bytes, *, with_keys: bool
) -> Callable[[Sequence[bytes]], tuple[bytes, bytes]]:
    """Kernel: items → tags (and keys) of ``k · H(item)`` (sender's own set)."""
    return partial(_tag_items, scalar=scalar, with_keys=with_keys)


def unblind_kernel(inverse: bytes, *, with_keys: bool) -> Callable[[bytes], tuple[bytes, bytes]]:
    """Kernel: elements ``k_S k_R H(x)`` → tags (and keys) of ``k_S H(x)`` (receiver)."""
    return partial(_unblind, inverse=inverse, with_keys=with_keys)


def sum_items_kernel(
    scalar: bytes, secrets: tuple[bytes, ...], limb_bits: int
) -> Callable[[tuple[Sequence[bytes], Sequence[int], bytes]], tuple[bytes, bytes]]:
    """Kernel: (items, values, randomness) → (tags, limb ElGamal ciphertexts) (SUM sender)."""
    return partial(_sum_items, scalar=scalar, secrets=secrets, limb_bits=limb_bits)


__all__ = [
    "DOMAIN",
    "GROUPED_RECORD",
    "KEY_BYTES",
    "Mapper",
    "blind_grouped_kernel",
    "blind_kernel",
    "derive",
    "interleave",
    "reblind_grouped_kernel",
    "reblind_kernel",
    "serial_map",
    "split_records",
    "sum_items_kernel",
    "tag_kernel",
    "unblind_grouped_kernel",
    "unblind_kernel",
]
