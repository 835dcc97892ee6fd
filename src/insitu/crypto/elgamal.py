"""Exponential (additively homomorphic) ElGamal on ristretto255, with values split in limbs.

A non-negative integer ``t < 2^(limb_bits·limbs)`` is written in base
``2^limb_bits``; limb ``i`` is encrypted as ``C_i = t_i·B + r·P_i`` under its own
key ``P_i = s_i·B``, all limbs sharing one ``R = r·B``. Separate keys per limb
keep ``C_i - C_j`` from revealing ``(t_i - t_j)·B``. Ciphertexts add
component-wise; a sum of at most ``k`` ciphertexts decrypts limb-wise by a
bounded discrete logarithm (baby-step giant-step over ``[0, k·(2^limb_bits - 1)]``)
and the limbs recombine exactly.

The key holder encrypts with base multiplications only (``C_i = (t_i + r·s_i)·B``),
which is why the value holder owns the key in intersection-sum.

Security: IND-CPA under DDH in ristretto255 for the holder of the public keys.
Ciphertexts are not authenticated (semi-honest use only). Randomness comes in
as a parameter (``rng`` or explicit bytes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from insitu.crypto import ristretto as group
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort

LIMB_BITS = 16
RANDOMNESS_BYTES = 64


@dataclass(frozen=True)
class LimbKeys:
    """Secret scalars ``s_i`` and public elements ``P_i = s_i·B``, one per limb."""

    secrets: tuple[bytes, ...]
    publics: tuple[bytes, ...]

    @classmethod
    def generate(cls, limbs: int, rng: Rng = system_rng) -> LimbKeys:
        """Fresh keys for ``limbs`` limbs."""
        if limbs < 1:
            raise InvalidInput("need at least one limb")
        secrets = tuple(group.random_scalar(rng) for _ in range(limbs))
        return cls(secrets, tuple(group.mult_base(s) for s in secrets))


def ciphertext_bytes(limbs: int) -> int:
    """Size of one encoded ciphertext: ``R`` then one element per limb."""
    return group.ELEMENT_BYTES * (1 + limbs)


def split_limbs(value: int, limbs: int, limb_bits: int = LIMB_BITS) -> list[int]:
    """Little-endian base-``2^limb_bits`` digits of ``value``; raise if it does not fit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("values must be integers")
    if value < 0 or value >= 1 << (limb_bits * limbs):
        raise InvalidInput(f"value outside [0, 2^{limb_bits * limbs})")
    mask = (1 << limb_bits) - 1
    return [(value >> (limb_bits * i)) & mask for i in range(limbs)]


def encrypt_batch(
    values: Sequence[int],
    secrets: Sequence[bytes],
    randomness: bytes,
    *,
    limb_bits: int = LIMB_BITS,
) -> bytes:
    """Encrypt each value under the limb keys; the key holder's fast path.

    ``randomness`` holds 64 uniform bytes per value (reduced mod L to ``r``).
    Returns the ciphertexts concatenated, :func:`ciphertext_bytes` each.
    """
    if len(randomness) != RANDOMNESS_BYTES * len(values):
        raise InvalidInput("need 64 bytes of randomness per value")
    limbs = len(secrets)
    s_ints = [group.scalar_to_int(s) for s in secrets]
    out = bytearray()
    for k, value in enumerate(values):
        digits = split_limbs(value, limbs, limb_bits)
        chunk = randomness[RANDOMNESS_BYTES * k : RANDOMNESS_BYTES * (k + 1)]
        r = int.from_bytes(chunk, "little") % group.ORDER or 1
        out += group.mult_base(group.scalar_from_int(r))
        for digit, s in zip(digits, s_ints, strict=True):
            exponent = (digit + r * s) % group.ORDER
            out += group.mult_base(group.scalar_from_int(exponent)) if exponent else group.IDENTITY
    return bytes(out)


def split_ciphertext(data: bytes, limbs: int) -> list[bytes]:
    """The ``1 + limbs`` encoded elements of one ciphertext."""
    if len(data) != ciphertext_bytes(limbs):
        raise ProtocolAbort("ciphertext has the wrong length")
    size = group.ELEMENT_BYTES
    return [data[i : i + size] for i in range(0, len(data), size)]


def add_ciphertexts(ciphertexts: Iterable[bytes], limbs: int) -> bytes:
    """Component-wise sum of ciphertexts (an encryption of the sum of the plaintexts)."""
    columns: list[list[bytes]] = [[] for _ in range(1 + limbs)]
    for ct in ciphertexts:
        for column, element in zip(columns, split_ciphertext(ct, limbs), strict=True):
            column.append(element)
    try:
        return b"".join(group.sum_elements(column) for column in columns)
    except InvalidInput:
        raise ProtocolAbort("peer sent an invalid ciphertext element") from None


def rerandomize(ciphertext: bytes, publics: Sequence[bytes], rng: Rng = system_rng) -> bytes:
    """Add a fresh encryption of zero, so the result is unlinkable to its inputs."""
    parts = split_ciphertext(ciphertext, len(publics))
    r = group.random_scalar(rng)
    fresh = [group.mult_base(r)] + [group.mult(r, p) for p in publics]
    return b"".join(group.sum_elements([a, b]) for a, b in zip(parts, fresh, strict=True))


def rerandomize_batch(ciphertexts: bytes, public: bytes, randomness: bytes) -> bytes:
    """Re-randomise single-limb ciphertexts under ``public``; 64 random bytes each.

    Raises :class:`ProtocolAbort` on an invalid element: the ciphertexts come from a peer.
    """
    size = ciphertext_bytes(1)
    if len(ciphertexts) % size or len(randomness) != RANDOMNESS_BYTES * (len(ciphertexts) // size):
        raise ProtocolAbort("ciphertext block has the wrong length")
    out = bytearray()
    try:
        for k in range(len(ciphertexts) // size):
            chunk = randomness[RANDOMNESS_BYTES * k : RANDOMNESS_BYTES * (k + 1)]
            r = group.scalar_from_int(int.from_bytes(chunk, "little") % group.ORDER or 1)
            big_r = ciphertexts[size * k : size * k + 32]
            c = ciphertexts[size * k + 32 : size * (k + 1)]
            out += group.add(big_r, group.mult_base(r))
            out += group.add(c, group.mult(r, public))
    except InvalidInput:
        raise ProtocolAbort("peer sent an invalid ciphertext element") from None
    return bytes(out)


def decrypt_small_batch(ciphertexts: bytes, secret: bytes, table: dict[bytes, int]) -> list[int]:
    """Decrypt single-limb ciphertexts whose plaintexts are keys of ``table`` (``m·B → m``).

    Raises :class:`ProtocolAbort` when a plaintext is not in the table.
    """
    size = ciphertext_bytes(1)
    out = []
    try:
        for k in range(0, len(ciphertexts), size):
            big_r, c = ciphertexts[k : k + 32], ciphertexts[k + 32 : k + size]
            point = group.sub(c, group.mult(secret, big_r))
            value = table.get(point)
            if value is None:
                raise ProtocolAbort("a ciphertext decrypts to no declared value")
            out.append(value)
    except InvalidInput:
        raise ProtocolAbort("peer sent an invalid ciphertext element") from None
    return out


def small_table(count: int) -> dict[bytes, int]:
    """``{m·B: m}`` for ``m`` in ``range(count)``."""
    table = {group.IDENTITY: 0}
    generator = group.mult_base(group.scalar_from_int(1))
    point = group.IDENTITY
    for m in range(1, count):
        point = group.sum_elements([point, generator])
        table[point] = m
    return table


def decrypt_sum(
    ciphertext: bytes, secrets: Sequence[bytes], *, max_terms: int, limb_bits: int = LIMB_BITS
) -> int:
    """Decrypt a sum of at most ``max_terms`` ciphertexts; abort if it is out of range."""
    limbs = len(secrets)
    parts = split_ciphertext(ciphertext, limbs)
    big_r = parts[0]
    bound = max_terms * ((1 << limb_bits) - 1)
    total = 0
    solver = _BabyGiant(bound)
    for i, (c, s) in enumerate(zip(parts[1:], secrets, strict=True)):
        try:
            mask = group.mult(s, big_r) if big_r != group.IDENTITY else group.IDENTITY
            point = group.sub(c, mask) if mask != group.IDENTITY else c
        except InvalidInput:
            raise ProtocolAbort("invalid ciphertext") from None
        total += solver.log(point) << (limb_bits * i)
    return total


class _BabyGiant:
    """Baby-step giant-step discrete logarithm on ``[0, bound]`` to base B."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.step = math.isqrt(bound) + 1
        self.table = small_table(self.step)
        self.giant = group.mult_base(group.scalar_from_int(self.step))

    def log(self, point: bytes) -> int:
        current = point
        for i in range(self.step + 1):
            j = self.table.get(current)
            if j is not None:
                value = i * self.step + j
                if value > self.bound:
                    break
                return value
            current = group.sub(current, self.giant)
        raise ProtocolAbort("decrypted sum is out of the declared range")


__all__ = [
    "LIMB_BITS",
    "RANDOMNESS_BYTES",
    "LimbKeys",
    "add_ciphertexts",
    "ciphertext_bytes",
    "decrypt_small_batch",
    "decrypt_sum",
    "encrypt_batch",
    "rerandomize",
    "rerandomize_batch",
    "small_table",
    "split_ciphertext",
    "split_limbs",
]
