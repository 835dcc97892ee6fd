"""One secure-aggregation round over a Channel, as each role plays it.

Shared by :mod:`~insitu.computations.secure_stats.parties`,
:mod:`~insitu.computations.secure_stats.result_party` and
:mod:`~insitu.computations.secure_stats.vector_sum`. Message flow of round r:
input → computing ``share``; computing → result ``held``; result → computing
``roster``; computing → result ``sum``. Security and failure behaviour are
those of :mod:`insitu.protocols.secure_aggregation`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from insitu.computations.channel import Channel
from insitu.computations.secure_stats.control import broadcast_abort, msg_id
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import ProtocolAbort, Unavailable
from insitu.protocols.secure_aggregation import (
    Reconstructor,
    ShareDealer,
    ShareHolder,
    abort_message,
)


@dataclass(frozen=True)
class Roles:
    """Who plays what in a job made of aggregation rounds, and how long to wait."""

    job_id: str
    session: bytes
    input_parties: tuple[str, ...]
    computing_parties: tuple[str, ...]
    result_party: str
    timeout: float

    @property
    def patience(self) -> float:
        """How long a party waits for a peer that is itself waiting on others."""
        return 3.0 * self.timeout + 5.0


@dataclass
class Progress:
    """Where the result party is, so an abort reaches each party where it waits."""

    round: int = 0
    cp_waits_for: str = "roster"
    told: set[str] = field(default_factory=set)


def share(
    roles: Roles, channel: Channel, round_: int, vector: npt.NDArray[np.uint64], *, rng: Rng
) -> None:
    """Input party: send one share per computing party (explicit share rotates)."""
    cps = roles.computing_parties
    index = roles.input_parties.index(channel.me)
    dealer = ShareDealer(
        session=roles.session,
        round_=round_,
        computing_parties=len(cps),
        explicit_to=(index + round_) % len(cps),
        rng=rng,
    )
    for cp, message in zip(cps, dealer.deal(vector), strict=True):
        channel.send(cp, msg_id(roles.job_id, round_, "share"), message)


def decline(roles: Roles, channel: Channel, reason: str) -> None:
    """Input party: tell every computing party it will not contribute (round 0)."""
    dealer = ShareDealer(
        session=roles.session,
        round_=0,
        computing_parties=len(roles.computing_parties),
        explicit_to=0,
        rng=system_rng,
    )
    message = dealer.decline(reason)
    for cp in roles.computing_parties:
        channel.send(cp, msg_id(roles.job_id, 0, "share"), message)


def hold(
    roles: Roles,
    channel: Channel,
    round_: int,
    length: int,
    expected: set[int],
    noise: npt.NDArray[np.int64] | None = None,
) -> None:
    """Computing party: collect shares until the timeout, report, add the roster, send the sum.

    ``noise`` is this party's DP noise share for the round, in grid units.

    A malformed or replayed share is reported to the result party as an abort
    and raised here as :class:`ProtocolAbort`.
    """
    holder = ShareHolder(
        session=roles.session, round_=round_, inputs=len(roles.input_parties), length=length
    )
    deadline = time.monotonic() + roles.timeout
    held_id = msg_id(roles.job_id, round_, "held")
    try:
        for i, name in enumerate(roles.input_parties):
            if i not in expected:
                holder.missing(i)
                continue
            try:
                payload = channel.receive(
                    name,
                    msg_id(roles.job_id, round_, "share"),
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            except Unavailable:
                holder.missing(i)
                continue
            holder.accept(i, payload)
        report = holder.held()
    except ProtocolAbort as exc:
        reason = f"{channel.me}: {exc.message}"
        channel.send(roles.result_party, held_id, abort_message(roles.session, round_, reason))
        raise
    channel.send(roles.result_party, held_id, report)
    roster = channel.receive(
        roles.result_party, msg_id(roles.job_id, round_, "roster"), timeout=roles.patience
    )
    total = holder.aggregate(roster, noise=noise)
    channel.send(roles.result_party, msg_id(roles.job_id, round_, "sum"), total)


def reconstruct(
    roles: Roles,
    channel: Channel,
    progress: Progress,
    length: int,
    quorum: int,
    on_roster: Callable[[list[int]], None] = lambda _: None,
) -> tuple[list[int], npt.NDArray[np.uint64]]:
    """Result party: fix the roster (``on_roster`` sees it first), add the computing sums."""
    r = progress.round
    rec = Reconstructor(
        session=roles.session,
        round_=r,
        computing_parties=len(roles.computing_parties),
        inputs=len(roles.input_parties),
        length=length,
        quorum=quorum,
    )
    progress.cp_waits_for = "roster"
    for j, cp in enumerate(roles.computing_parties):
        report = channel.receive(cp, msg_id(roles.job_id, r, "held"), timeout=roles.patience)
        rec.report(j, report)
    indices, roster = rec.roster()
    on_roster(indices)
    for cp in roles.computing_parties:
        channel.send(cp, msg_id(roles.job_id, r, "roster"), roster)
    progress.cp_waits_for = "control"
    for j, cp in enumerate(roles.computing_parties):
        rec.combine(j, channel.receive(cp, msg_id(roles.job_id, r, "sum"), timeout=roles.patience))
    return indices, rec.result()


def abort_all(roles: Roles, channel: Channel, progress: Progress, reason: str) -> None:
    """Result party: tell every computing party and untold input party that the job stopped."""
    r = progress.round
    targets = [
        (cp, msg_id(roles.job_id, r, progress.cp_waits_for)) for cp in roles.computing_parties
    ]
    targets += [
        (p, msg_id(roles.job_id, r, "control"))
        for p in roles.input_parties
        if p not in progress.told
    ]
    broadcast_abort(channel, targets, roles.session, r, reason)


__all__ = ["Progress", "Roles", "abort_all", "decline", "hold", "reconstruct", "share"]
