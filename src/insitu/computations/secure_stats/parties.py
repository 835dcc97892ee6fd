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

import pandas as pd

from insitu.computations.channel import Channel
from insitu.computations.secure_stats import rounds
from insitu.computations.secure_stats.control import msg_id, unpack_control
from insitu.computations.secure_stats.features import check_rows
from insitu.computations.secure_stats.layout import Layout
from insitu.computations.secure_stats.local import encode_round, used_columns
from insitu.computations.secure_stats.noise import noise_share
from insitu.computations.secure_stats.receipt import Receipt, SecureStatsResult
from insitu.computations.secure_stats.spec import SecureStatsSpec
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InsituError, InvalidInput, ProtocolAbort
from insitu.tables.card import Card


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
    roles = spec.roles()
    try:
        if table is None:
            raise InvalidInput("an input party needs its local table")
        cards = [spec.card] if card is None or card == spec.card else [spec.card, card]
        check_rows(table, cards, used_columns(layout))
        vector = encode_round(layout, 0, table, spec.card, {})
    except Exception as exc:  # declined before anything is shared; re-raised below
        rounds.decline(roles, channel, exc.code if isinstance(exc, InsituError) else "invalid")
        raise
    round_ = 0
    while True:
        rounds.share(roles, channel, round_, vector, rng=rng)
        reply = channel.receive(
            spec.result_party, msg_id(spec.job_id, round_, "control"), timeout=roles.patience
        )
        control = unpack_control(reply, roles.session, round_)
        if control["op"] == "done":
            receipt = Receipt.from_dict(control.get("receipt"), party=channel.me, role="input")
            return SecureStatsResult(receipt=receipt)
        round_ += 1
        betas = control.get("betas")
        if not isinstance(betas, dict) or round_ >= layout.rounds:
            raise ProtocolAbort("malformed next-round instruction")
        vector = encode_round(layout, round_, table, spec.card, betas)


def run_computing(spec: SecureStatsSpec, layout: Layout, channel: Channel) -> SecureStatsResult:
    """Play computing party ``channel.me``; see the module docstring."""
    roles = spec.roles()
    expected = set(range(len(spec.input_parties)))
    round_ = 0
    while True:
        r = round_
        noise = noise_share(layout, r, spec.dp.rho) if spec.dp is not None else None
        rounds.hold(roles, channel, r, layout.length(r), expected, noise=noise)
        reply = channel.receive(
            spec.result_party, msg_id(spec.job_id, r, "control"), timeout=roles.patience
        )
        control = unpack_control(reply, roles.session, r)
        if control["op"] == "done":
            receipt = Receipt.from_dict(control.get("receipt"), party=channel.me, role="computing")
            return SecureStatsResult(receipt=receipt)
        names = control.get("roster")
        if not isinstance(names, list) or not set(names) <= set(spec.input_parties):
            raise ProtocolAbort("malformed next-round instruction")
        expected = {spec.input_parties.index(n) for n in names}
        round_ += 1


__all__ = ["run_computing", "run_input"]
