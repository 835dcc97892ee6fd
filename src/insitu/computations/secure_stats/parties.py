"""The input and computing parties of a secure-statistics job.

Input party: checks its table against the card(s) before anything is shared;
on a violation it sends a ``DECLINE`` to every computing party and raises
locally. Otherwise, each round it secret-shares its local sums (explicit
share to one computing party, rotating; seeds to the others) and waits for
the result party's instruction: next round (new logistic coefficients), done
(with the receipt), or abort (raises :class:`~insitu.errors.ProtocolAbort`).
It learns the receipt and, for logistic regression, the coefficients of every
Newton step.

Computing party: collects shares until ``spec.timeout``; an input that sent
nothing is reported missing (left out if the quorum allows). A malformed or
replayed share aborts the job for everyone. It adds up the roster's shares,
plus its own DP noise share when the spec asks for DP, and sends the sum to
the result party. It learns who contributed and the vector sizes only.
"""

from __future__ import annotations

import time

import pandas as pd

from insitu.computations.channel import Channel
from insitu.computations.secure_stats.control import msg_id, unpack_control
from insitu.computations.secure_stats.features import check_rows
from insitu.computations.secure_stats.layout import Layout
from insitu.computations.secure_stats.local import encode_round, used_columns
from insitu.computations.secure_stats.noise import noise_share
from insitu.computations.secure_stats.receipt import Receipt, SecureStatsResult
from insitu.computations.secure_stats.spec import SecureStatsSpec
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InsituError, InvalidInput, ProtocolAbort, Unavailable
from insitu.protocols.secure_aggregation import ShareDealer, ShareHolder, abort_message
from insitu.tables.card import Card


def patience(spec: SecureStatsSpec) -> float:
    """How long a party waits for a peer that is itself waiting on others."""
    return 3.0 * spec.timeout + 5.0


def run_input(
    spec: SecureStatsSpec,
    layout: Layout,
    channel: Channel,
    table: pd.DataFrame | None,
    *,
    card: Card | None = None,
    rng: Rng = system_rng,
) -> SecureStatsResult:
    """Play input party ``channel.me``; see the module docstring."""
    me, session, cps = channel.me, spec.session(), spec.computing_parties
    index = spec.input_parties.index(me)
    try:
        if table is None:
            raise InvalidInput("an input party needs its local table")
        cards = [spec.card] if card is None or card == spec.card else [spec.card, card]
        check_rows(table, cards, used_columns(layout))
        vector = encode_round(layout, 0, table, spec.card, {})
    except Exception as exc:  # declined before anything is shared; re-raised below
        dealer = ShareDealer(session=session, round_=0, computing_parties=len(cps), explicit_to=0)
        decline = dealer.decline(exc.code if isinstance(exc, InsituError) else "invalid_input")
        for cp in cps:
            channel.send(cp, msg_id(spec.job_id, 0, "share"), decline)
        raise
    round_ = 0
    while True:
        dealer = ShareDealer(
            session=session,
            round_=round_,
            computing_parties=len(cps),
            explicit_to=(index + round_) % len(cps),
            rng=rng,
        )
        for cp, message in zip(cps, dealer.deal(vector), strict=True):
            channel.send(cp, msg_id(spec.job_id, round_, "share"), message)
        reply = channel.receive(
            spec.result_party, msg_id(spec.job_id, round_, "control"), timeout=patience(spec)
        )
        control = unpack_control(reply, session, round_)
        if control["op"] == "done":
            receipt = Receipt.from_dict(control.get("receipt"), party=me, role="input")
            return SecureStatsResult(receipt=receipt)
        round_ += 1
        betas = control.get("betas")
        if not isinstance(betas, dict) or round_ >= layout.rounds:
            raise ProtocolAbort("malformed next-round instruction")
        vector = encode_round(layout, round_, table, spec.card, betas)


def _collect(
    spec: SecureStatsSpec, channel: Channel, holder: ShareHolder, round_: int, expected: set[int]
) -> None:
    deadline = time.monotonic() + spec.timeout
    for i, name in enumerate(spec.input_parties):
        if i not in expected:
            holder.missing(i)
            continue
        try:
            payload = channel.receive(
                name,
                msg_id(spec.job_id, round_, "share"),
                timeout=max(0.0, deadline - time.monotonic()),
            )
        except Unavailable:
            holder.missing(i)
            continue
        holder.accept(i, payload)


def run_computing(spec: SecureStatsSpec, layout: Layout, channel: Channel) -> SecureStatsResult:
    """Play computing party ``channel.me``; see the module docstring."""
    me, session, result = channel.me, spec.session(), spec.result_party
    expected = set(range(len(spec.input_parties)))
    round_ = 0
    while True:
        holder = ShareHolder(
            session=session,
            round_=round_,
            inputs=len(spec.input_parties),
            length=layout.length(round_),
        )
        try:
            _collect(spec, channel, holder, round_, expected)
            held = holder.held()
        except ProtocolAbort as exc:
            reason = f"{me}: {exc.message}"
            channel.send(
                result, msg_id(spec.job_id, round_, "held"), abort_message(session, round_, reason)
            )
            raise
        channel.send(result, msg_id(spec.job_id, round_, "held"), held)
        roster = channel.receive(
            result, msg_id(spec.job_id, round_, "roster"), timeout=patience(spec)
        )
        noise = noise_share(layout, round_, spec.dp.rho) if spec.dp is not None else None
        total = holder.aggregate(roster, noise=noise)
        channel.send(result, msg_id(spec.job_id, round_, "sum"), total)
        reply = channel.receive(
            result, msg_id(spec.job_id, round_, "control"), timeout=patience(spec)
        )
        control = unpack_control(reply, session, round_)
        if control["op"] == "done":
            receipt = Receipt.from_dict(control.get("receipt"), party=me, role="computing")
            return SecureStatsResult(receipt=receipt)
        names = control.get("roster")
        if not isinstance(names, list) or not set(names) <= set(spec.input_parties):
            raise ProtocolAbort("malformed next-round instruction")
        expected = {spec.input_parties.index(n) for n in names}
        round_ += 1


__all__ = ["patience", "run_computing", "run_input"]
