"""The result party of a secure-statistics job: roster, reconstruction, statistics.

Each round it waits for every computing party's ``HELD`` report, fixes the
roster (inputs held by all computing parties; fewer than the quorum aborts),
adds the computing parties' sums, and decodes them with range checks: a value
outside its declared range (ring overflow, a contribution beyond its bounds,
or more rows than ``max_rows``) aborts the job instead of releasing a wrong
number. For logistic regression it then sends the next coefficients to the
input and computing parties; after the last round it computes the statistics
and sends everyone the receipt. Any failure is broadcast as an ``ABORT`` to
every party before it is raised here, so the job fails everywhere at once.

It learns the (noised, with DP) aggregate sums of the contributors, the
per-round aggregated gradients and Hessians of a logistic fit, and who
contributed; no single input's sums.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from insitu.computations.channel import Channel
from insitu.computations.secure_stats import results, rounds
from insitu.computations.secure_stats.control import msg_id, pack_control
from insitu.computations.secure_stats.layout import COUNT_KEY, Layout
from insitu.computations.secure_stats.noise import noise_std, slack
from insitu.computations.secure_stats.receipt import Receipt, SecureStatsResult
from insitu.computations.secure_stats.spec import Logistic, SecureStatsSpec
from insitu.crypto import fixed_point as fp
from insitu.errors import InsituError, InvalidInput, ProtocolAbort


class _Job:
    """State the result party keeps across rounds."""

    def __init__(self, spec: SecureStatsSpec, layout: Layout, channel: Channel) -> None:
        self.spec, self.layout, self.channel = spec, layout, channel
        self.roles = spec.roles()
        self.progress = rounds.Progress()
        self.roster: list[str] = list(spec.input_parties)
        self.betas: dict[str, list[float]] = {}
        self.hessians: dict[str, Any] = {}
        self.sums: dict[str, Any] = {}

    def send_all(self, names: list[str], step: str, payload: bytes) -> None:
        for name in names:
            self.channel.send(name, msg_id(self.spec.job_id, self.progress.round, step), payload)

    def receipt(self) -> Receipt:
        spec, layout = self.spec, self.layout
        kinds: list[str] = sorted({s.kind for s in spec.statistics})
        precision: dict[str, dict[str, float]] = {}
        std = noise_std(layout, spec.dp.rho, len(spec.computing_parties)) if spec.dp else {}
        for b in layout.blocks:
            error = 0.0 if b.exact else fp.max_error(b.min_frac_bits, len(self.roster))
            precision[b.key] = {"frac_bits": float(b.min_frac_bits), "max_sum_error": error}
            precision[b.key].update(std.get(b.key, {}))
        return Receipt(
            job_id=spec.job_id,
            spec_hash=spec.digest(),
            party=self.channel.me,
            role="result",
            contributors={name: kinds for name in self.roster},
            left_out=[p for p in spec.input_parties if p not in self.roster],
            rounds=layout.rounds,
            rho=spec.dp.rho if spec.dp else None,
            precision=precision,
        )


def _aggregate_round(job: _Job) -> None:
    spec, layout = job.spec, job.layout
    r = job.progress.round

    def fix_roster(indices: list[int]) -> None:
        names = [spec.input_parties[i] for i in indices]
        if r > 0 and names != job.roster:
            raise ProtocolAbort("an input party dropped out between rounds")
        job.roster = names
        if r == 0:
            left_out = [p for p in spec.input_parties if p not in names]
            done = {"op": "done", "receipt": job.receipt().to_dict()}
            job.send_all(left_out, "control", pack_control(job.roles.session, 0, done))
            job.progress.told.update(left_out)

    quorum = spec.required if r == 0 else len(job.roster)
    _, words = rounds.reconstruct(
        job.roles, job.channel, job.progress, layout.length(r), quorum, on_roster=fix_roster
    )
    f, lo, hi = layout.slot_params(r)
    rho = spec.dp.rho if spec.dp else None
    tolerance = slack(layout, r, rho, len(spec.computing_parties))
    try:
        decoded = fp.decode(words, frac_bits=f, lower=lo, upper=hi, slack=tolerance)
    except InvalidInput as exc:
        raise ProtocolAbort(f"aggregate failed its range check: {exc.message}") from None
    sums = layout.split(r, decoded)
    if r == 0:
        if sums[COUNT_KEY][0] > spec.max_rows + tolerance[0]:
            raise ProtocolAbort("inputs hold more rows than the spec's max_rows")
        job.sums = sums
    for stat in spec.statistics:
        if isinstance(stat, Logistic) and r < stat.iterations:
            block = layout.block(results.logit_key(stat))
            beta = job.betas.get(block.key, [0.0] * len(results.regressors(layout, block)))
            job.betas[block.key], job.hessians[block.key] = results.newton_step(
                layout, block, sums, beta
            )
            if not np.all(np.isfinite(job.betas[block.key])):
                raise ProtocolAbort("logistic fit diverged")


def run_result(spec: SecureStatsSpec, layout: Layout, channel: Channel) -> SecureStatsResult:
    """Play the result party; see the module docstring."""
    job = _Job(spec, layout, channel)
    session, progress = job.roles.session, job.progress
    try:
        while True:
            _aggregate_round(job)
            targets = [*spec.computing_parties, *job.roster]
            if progress.round + 1 < layout.rounds:
                body = {"op": "next", "betas": job.betas, "roster": job.roster}
                job.send_all(targets, "control", pack_control(session, progress.round, body))
                progress.round += 1
                continue
            values = _values(job)
            receipt = job.receipt()
            done = {"op": "done", "receipt": receipt.to_dict()}
            job.send_all(targets, "control", pack_control(session, progress.round, done))
            return SecureStatsResult(receipt=receipt, values=values)
    except InsituError as exc:
        rounds.abort_all(job.roles, channel, progress, exc.message)
        raise


def _values(job: _Job) -> dict[str, Any]:
    spec, layout = job.spec, job.layout
    exact = spec.dp is None
    out: dict[str, Any] = {}
    n = float(job.sums[COUNT_KEY][0])
    for name, stat in zip(spec.names(), spec.statistics, strict=True):
        if isinstance(stat, Logistic):
            key = results.logit_key(stat)
            block = layout.block(key)
            out[name] = results.logistic(layout, block, job.betas[key], job.hessians[key], n)
        else:
            out[name] = results.statistic(layout, stat, job.sums, exact)
    return out


__all__ = ["run_result"]
