"""Pseudorandom generator: expand a short seed into a long vector of ring elements.

Construction: AES-256 in counter mode keyed by the 32-byte seed, encrypting
zero bytes; the keystream is read as little-endian unsigned 64-bit words, i.e.
uniform elements of Z_2^64. Independent streams under one seed are separated by
the 64-bit ``stream`` number placed in the upper half of the initial counter
block (NIST SP 800-38A counter mode; the lower 64 bits count blocks, so a
stream may hold up to 2^64 blocks before it could meet the next one).

Security: if AES-256 is a pseudorandom permutation, the output is
computationally indistinguishable from uniform to anyone who does not know
the seed. The seed is the whole secret: it must come from a CSPRNG (the
``rng`` parameter of :func:`new_seed`), must not be reused for another
purpose, and is only as confidential as the channel it travels over.
The cipher is pyca/cryptography's (OpenSSL, AES-NI where available).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput

SEED_BYTES = 32
"""Length of a PRG seed in bytes (an AES-256 key)."""

_BLOCK = 16
_MAX_STREAM = (1 << 64) - 1


def new_seed(rng: Rng = system_rng) -> bytes:
    """A fresh 32-byte seed drawn from ``rng`` (the OS CSPRNG by default)."""
    seed = rng(SEED_BYTES)
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise InvalidInput(f"rng must return {SEED_BYTES} bytes")
    return seed


def keystream(seed: bytes, n_bytes: int, *, stream: int = 0) -> bytes:
    """``n_bytes`` of AES-256-CTR keystream for ``seed`` and ``stream``.

    Parameters
    ----------
    seed:
        32 secret bytes.
    n_bytes:
        How many bytes to produce (non-negative).
    stream:
        Domain separator in [0, 2^64); distinct streams give independent output.

    Raises
    ------
    TypeError
        If ``seed`` is not bytes or ``stream``/``n_bytes`` not integers.
    InvalidInput
        On a wrong seed length, a negative size or an out-of-range stream.
    """
    _check(seed, n_bytes, stream)
    return _fill(seed, n_bytes, stream).tobytes()


def expand_u64(seed: bytes, length: int, *, stream: int = 0) -> npt.NDArray[np.uint64]:
    """``length`` pseudorandom elements of Z_2^64 as a writable ``uint64`` array.

    Parameters
    ----------
    seed:
        32 secret bytes, e.g. from :func:`new_seed`.
    length:
        Number of 64-bit words.
    stream:
        Domain separator; use a different value for each vector drawn from one seed.

    Returns
    -------
    numpy.ndarray
        Uniform-looking ``uint64`` words (little-endian keystream words).
    """
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError("length must be an int")
    if length < 0:
        raise InvalidInput("length must be non-negative")
    _check(seed, 0, stream)
    return _fill(seed, length * 8, stream).view("<u8").astype(np.uint64, copy=False)


def _fill(seed: bytes, n_bytes: int, stream: int) -> npt.NDArray[np.uint8]:
    nonce = stream.to_bytes(8, "big") + bytes(8)
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(nonce)).encryptor()
    buf = np.zeros(n_bytes + _BLOCK, dtype=np.uint8)
    view = memoryview(buf.data)
    encryptor.update_into(view[:n_bytes], view)
    encryptor.finalize()
    return buf[:n_bytes]


def _check(seed: bytes, n_bytes: int, stream: int) -> None:
    if not isinstance(seed, bytes):
        raise TypeError("seed must be bytes")
    if len(seed) != SEED_BYTES:
        raise InvalidInput(f"seed must be {SEED_BYTES} bytes, got {len(seed)}")
    for name, value in (("n_bytes", n_bytes), ("stream", stream)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int")
    if n_bytes < 0:
        raise InvalidInput("n_bytes must be non-negative")
    if not 0 <= stream <= _MAX_STREAM:
        raise InvalidInput("stream must be in [0, 2^64)")


__all__ = ["SEED_BYTES", "expand_u64", "keystream", "new_seed"]
