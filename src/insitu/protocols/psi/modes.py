"""PSI modes, party outputs, and the uniform shuffle used to hide membership."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from insitu.crypto.rng import Rng


class Mode(IntEnum):
    """What the protocol reveals.

    ``INTERSECTION``
        The receiver learns which of its items are in the sender's set; with
        ``reveal_to_both`` the sender also learns which of its items matched.
    ``CARDINALITY``
        The receiver learns only the size of the intersection; the sender
        shuffles so that no match can be linked to an item.
    ``SUM``
        Intersection-sum: the sender holds a non-negative integer value per
        item; both learn the intersection size, the sender learns the sum of
        its values over the intersection, nobody learns which records matched.
    ``PAYLOAD``
        The receiver learns, for each of its matched items, the sender's
        payload bytes; payloads of unmatched sender items stay encrypted under
        keys the receiver cannot derive.
    """

    INTERSECTION = 1
    CARDINALITY = 2
    SUM = 3
    PAYLOAD = 4

    @property
    def shuffled(self) -> bool:
        """Whether the sender returns the receiver's elements in a random order."""
        return self in (Mode.CARDINALITY, Mode.SUM)


@dataclass(frozen=True)
class ReceiverOutput:
    """What the receiver learns.

    ``matched`` holds positions (0-based, in the receiver's input order) of
    matched items in ``INTERSECTION`` and ``PAYLOAD`` modes, else ``None``;
    ``payloads`` maps those positions to the sender's payloads in ``PAYLOAD``;
    ``group_counts`` holds per-group intersection sizes in grouped ``SUM``.
    """

    mode: Mode
    cardinality: int
    sender_size: int
    matched: list[int] | None = None
    payloads: dict[int, bytes] | None = None
    group_counts: list[int] | None = None


@dataclass(frozen=True)
class SenderOutput:
    """What the sender learns besides the receiver's set size.

    ``matched`` (positions in the sender's input order) only with
    ``reveal_to_both`` in ``INTERSECTION`` mode; ``total`` and
    ``cardinality`` only in ``SUM`` mode. With receiver groups,
    ``group_counts`` and ``group_totals`` hold per-group figures and
    ``cardinality``/``total`` their sums (a key the receiver holds in two
    groups counts in both).
    """

    mode: Mode
    receiver_size: int
    cardinality: int | None = None
    total: int | None = None
    matched: list[int] | None = field(default=None)
    group_counts: list[int] | None = None
    group_totals: list[int] | None = None


def permutation(n: int, rng: Rng) -> npt.NDArray[np.int64]:
    """A uniformly random permutation of ``range(n)`` from ``rng``.

    Sorts 128-bit random keys drawn from ``rng``; the distance from uniform is
    at most the chance of a tie, below ``n² / 2^129``.
    """
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    keys = np.frombuffer(rng(16 * n), dtype=np.dtype([("hi", ">u8"), ("lo", ">u8")]))
    return np.argsort(keys, order=("hi", "lo"), kind="stable").astype(np.int64)


__all__ = ["Mode", "ReceiverOutput", "SenderOutput", "permutation"]
