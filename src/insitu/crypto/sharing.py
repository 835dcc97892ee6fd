"""Additive secret sharing over Z_2^64 with PRG-compressed shares.

Follows the classic n-out-of-n additive scheme (as in SPDZ-style and
secure-aggregation protocols, e.g. Bonawitz et al., CCS 2017, §3): a secret
vector ``x`` is split into ``x = s_0 + s_1 + … + s_{n-1} (mod 2^64)``. Shares
``s_1 … s_{n-1}`` are pseudorandom expansions of 32-byte seeds
(:mod:`insitu.crypto.prg`), so only ``s_0 = x − Σ PRG(seed_i)`` travels in
full: ``8·len(x)`` bytes to one holder, 32 bytes to each other holder.

What a holder learns: any ``n − 1`` shares together are (computationally)
uniform and independent of ``x``; a single share says nothing about ``x``.
All ``n`` shares reveal ``x``. Security therefore assumes holders do not pool
their shares (non-collusion) and that seeds travel over confidential channels.
Sums of shares are shares of sums, which is all secure aggregation needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from insitu.crypto.prg import expand_u64, new_seed
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput

MAX_PARTIES = 16


def split(
    secret: npt.NDArray[np.uint64], parties: int, *, rng: Rng = system_rng
) -> tuple[npt.NDArray[np.uint64], list[bytes]]:
    """Share ``secret`` among ``parties`` holders.

    Returns
    -------
    (explicit, seeds):
        The one share sent in full and ``parties − 1`` seeds, each of which
        expands (:func:`expand`) to the other shares.

    Raises
    ------
    TypeError
        If ``secret`` is not a one-dimensional ``uint64`` array.
    InvalidInput
        If ``parties`` is not in [2, 16].
    """
    _check_vector(secret)
    if isinstance(parties, bool) or not isinstance(parties, int):
        raise TypeError("parties must be an int")
    if not 2 <= parties <= MAX_PARTIES:
        raise InvalidInput(f"parties must be in [2, {MAX_PARTIES}]")
    seeds = [new_seed(rng) for _ in range(parties - 1)]
    explicit = secret.copy()
    for seed in seeds:
        explicit -= expand_u64(seed, secret.size)
    return explicit, seeds


def expand(seed: bytes, length: int) -> npt.NDArray[np.uint64]:
    """The share a seed stands for, ``length`` elements long."""
    return expand_u64(seed, length)


def recombine(shares: Sequence[npt.NDArray[np.uint64]]) -> npt.NDArray[np.uint64]:
    """Add shares (or sums of shares) element-wise modulo 2^64.

    Raises
    ------
    InvalidInput
        If no shares are given or their lengths differ.
    """
    if not shares:
        raise InvalidInput("need at least one share")
    for share in shares:
        _check_vector(share)
    if len({s.size for s in shares}) != 1:
        raise InvalidInput("shares differ in length")
    total = shares[0].copy()
    for share in shares[1:]:
        total += share
    return total


def _check_vector(x: object) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.uint64 or x.ndim != 1:
        raise TypeError("shares and secrets must be one-dimensional uint64 arrays")


__all__ = ["MAX_PARTIES", "expand", "recombine", "split"]
