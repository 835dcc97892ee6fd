"""Randomness source passed into pure crypto, DP and protocol code.

Production code uses :data:`system_rng` (the OS CSPRNG). Tests may pass a
seeded :class:`DeterministicRng` to pin transcripts; it must never be used
to protect real data.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol


class Rng(Protocol):
    """Anything that returns ``n`` random bytes."""

    def __call__(self, n: int, /) -> bytes: ...


def system_rng(n: int, /) -> bytes:
    """``n`` bytes from the operating system's CSPRNG."""
    return os.urandom(n)


class DeterministicRng:
    """Reproducible byte stream (SHA-256 in counter mode) for tests only."""

    def __init__(self, seed: bytes | int) -> None:
        if isinstance(seed, int):
            seed = seed.to_bytes(16, "big", signed=False)
        self._seed = seed
        self._counter = 0

    def __call__(self, n: int, /) -> bytes:
        out = bytearray()
        while len(out) < n:
            block = hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            out.extend(block)
        return bytes(out[:n])
