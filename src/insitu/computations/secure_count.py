"""Secure sum and count over several parties by additive masking modulo 2^64.

A secure count is a secure sum whose inputs are row counts (``secure_count``).

Protocol (every party is an input and computing party; result parties are a
subset; following the additive secret sharing of e.g. Cramer, Damgård and
Nielsen, *Secure Multiparty Computation and Secret Sharing*, 2015, ch. 3):

1. Party *i* with input ``x_i`` draws ``r_ij`` uniformly in Z_{2^64} for every
   other party *j*, sends ``r_ij`` to *j* and keeps ``x_i - Σ_j r_ij``.
2. Each party *j* adds its kept share and the shares it received into a
   partial sum ``s_j`` and sends ``s_j`` to every result party.
3. A result party adds all partial sums: ``Σ_j s_j = Σ_i x_i (mod 2^64)``.

What each party learns (semi-honest parties, no two of them colluding, the
channel authenticated): a party that is not a result party sees only shares,
each uniform and independent of the inputs, so it learns nothing beyond its
own input. A result party also sees the other parties' partial sums, which
are uniform subject to adding up to the total, so it learns the total and
nothing else. The total is exact, not differentially private: owners approve
it as an exact release (``exact=True`` in the collaboration's privacy cost)
or the inputs must already be DP-protected. Two colluding parties of three
learn the third's input from the total, as any function of the total would.

Inputs are integers in ``[0, 2^64 / n)`` for ``n`` parties, so the sum cannot
wrap. Messages are 10 bytes: version, kind (share or partial), value. A
message of the wrong kind, from an unknown party, a repeat, or one that comes
before its stage raises :class:`~insitu.errors.ProtocolAbort`; a party that
never answers makes :meth:`Channel.receive` raise
:class:`~insitu.errors.Unavailable`. Nothing is output on failure.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from insitu.computations.channel import Channel
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort

MODULUS = 1 << 64
VERSION = 1
_FORMAT = struct.Struct(">BBQ")


class Kind(IntEnum):
    """What a message carries."""

    SHARE = 1
    PARTIAL = 2


@dataclass(frozen=True)
class SumMessage:
    """One protocol message: a share of an input or a partial sum, in Z_{2^64}."""

    kind: Kind
    value: int

    def to_bytes(self) -> bytes:
        return _FORMAT.pack(VERSION, self.kind, self.value % MODULUS)

    @classmethod
    def from_bytes(cls, data: bytes) -> SumMessage:
        """Decode; :class:`ProtocolAbort` on a wrong length, version or kind."""
        if len(data) != _FORMAT.size:
            raise ProtocolAbort(f"secure-sum message must be {_FORMAT.size} bytes")
        version, kind, value = _FORMAT.unpack(data)
        if version != VERSION:
            raise ProtocolAbort(f"unsupported secure-sum message version {version}")
        try:
            return cls(Kind(kind), value)
        except ValueError:
            raise ProtocolAbort(f"unknown secure-sum message kind {kind}") from None


class Stage(StrEnum):
    NEW = "new"
    SHARED = "shared"
    SUMMED = "summed"
    DONE = "done"


class SecureSumParty:
    """One party of the secure sum; stages NEW → SHARED → SUMMED → DONE.

    Parameters
    ----------
    me, parties:
        This party's name and every party's name (including ``me``).
    value:
        This party's input, an integer in ``[0, 2^64 / len(parties))``.
    result_parties:
        Who learns the total.
    rng:
        Randomness for the masks (the OS CSPRNG unless a test pins it).
    """

    def __init__(
        self,
        me: str,
        parties: Sequence[str],
        value: int,
        *,
        result_parties: Sequence[str],
        rng: Rng = system_rng,
    ) -> None:
        if len(set(parties)) != len(parties) or me not in parties or len(parties) < 2:
            raise InvalidInput("parties must be at least two distinct names including me")
        if not set(result_parties) <= set(parties) or not result_parties:
            raise InvalidInput("result parties must be a non-empty subset of the parties")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("value must be an int")
        if not 0 <= value < MODULUS // len(parties):
            raise InvalidInput(f"value must lie in [0, 2^64 / {len(parties)})")
        self.me = me
        self.parties = tuple(parties)
        self.others = tuple(p for p in parties if p != me)
        self.result_parties = tuple(result_parties)
        self._value = value
        self._rng = rng
        self._stage = Stage.NEW
        self._kept = 0
        self._shares: dict[str, int] = {}
        self._partials: dict[str, int] = {}

    @property
    def stage(self) -> Stage:
        return self._stage

    def make_shares(self) -> dict[str, SumMessage]:
        """NEW → SHARED: the share to send to each other party."""
        self._require(Stage.NEW, "make shares")
        masks = {p: int.from_bytes(self._rng(8), "big") for p in self.others}
        self._kept = (self._value - sum(masks.values())) % MODULUS
        self._stage = Stage.SHARED
        return {p: SumMessage(Kind.SHARE, m) for p, m in masks.items()}

    def add_share(self, sender: str, message: SumMessage) -> None:
        """Take the share ``sender`` sent this party (once per other party)."""
        self._require(Stage.SHARED, "take a share")
        self._take(self._shares, sender, message, Kind.SHARE)

    def partial_sum(self) -> SumMessage:
        """SHARED → SUMMED once every share arrived: the message for the result parties."""
        self._require(Stage.SHARED, "sum shares")
        if len(self._shares) != len(self.others):
            raise ProtocolAbort("shares are missing; cannot sum yet")
        total = (self._kept + sum(self._shares.values())) % MODULUS
        self._partials[self.me] = total
        self._stage = Stage.SUMMED
        return SumMessage(Kind.PARTIAL, total)

    def add_partial(self, sender: str, message: SumMessage) -> None:
        """Result parties: take ``sender``'s partial sum."""
        self._require(Stage.SUMMED, "take a partial sum")
        if self.me not in self.result_parties:
            raise ProtocolAbort(f"{self.me!r} is not a result party but got a partial sum")
        self._take(self._partials, sender, message, Kind.PARTIAL)

    def total(self) -> int:
        """SUMMED → DONE for result parties: the sum of every party's input."""
        self._require(Stage.SUMMED, "output the total")
        if self.me not in self.result_parties:
            raise ProtocolAbort(f"{self.me!r} is not a result party")
        if len(self._partials) != len(self.parties):
            raise ProtocolAbort("partial sums are missing; cannot output yet")
        self._stage = Stage.DONE
        return sum(self._partials.values()) % MODULUS

    def _take(self, into: dict[str, int], sender: str, message: SumMessage, kind: Kind) -> None:
        if sender not in self.others:
            raise ProtocolAbort(f"message from unknown party {sender!r}")
        if message.kind is not kind:
            raise ProtocolAbort(f"expected a {kind.name.lower()} from {sender!r}")
        if sender in into:
            raise ProtocolAbort(f"second {kind.name.lower()} from {sender!r}")
        into[sender] = message.value

    def _require(self, stage: Stage, action: str) -> None:
        if self._stage is not stage:
            raise ProtocolAbort(f"cannot {action} in stage {self._stage.value!r}")


def secure_sum(
    channel: Channel,
    value: int,
    *,
    result_parties: Sequence[str],
    run_id: str = "secure-sum",
    timeout: float | None = 60.0,
    on_release: Callable[[], None] | None = None,
    rng: Rng = system_rng,
) -> int | None:
    """Run the secure sum as ``channel.me``; return the total at result parties, else ``None``.

    ``on_release`` is called once, before this party sends its partial sum
    (the step after which a result party can learn the total), so the node
    can record the release point first (:meth:`insitu.federation.job.Job.record_release`).
    """
    party = SecureSumParty(
        channel.me, channel.parties, value, result_parties=result_parties, rng=rng
    )
    for to, share in party.make_shares().items():
        channel.send(to, f"{run_id}/share", share.to_bytes())
    for sender in party.others:
        raw = channel.receive(sender, f"{run_id}/share", timeout=timeout)
        party.add_share(sender, SumMessage.from_bytes(raw))
    partial = party.partial_sum()
    if on_release is not None:
        on_release()
    for to in party.result_parties:
        if to != channel.me:
            channel.send(to, f"{run_id}/partial", partial.to_bytes())
    if channel.me not in party.result_parties:
        return None
    for sender in party.others:
        raw = channel.receive(sender, f"{run_id}/partial", timeout=timeout)
        party.add_partial(sender, SumMessage.from_bytes(raw))
    return party.total()


secure_count = secure_sum
"""Total of the parties' row counts (e.g. records matching a filter): :func:`secure_sum`."""


__all__ = [
    "MODULUS",
    "Kind",
    "SecureSumParty",
    "Stage",
    "SumMessage",
    "secure_count",
    "secure_sum",
]
