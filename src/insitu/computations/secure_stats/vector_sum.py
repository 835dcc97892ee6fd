"""Secure sum of real vectors: the bare aggregation, for callers that bring their own vectors.

Each input party holds a real vector of the agreed ``length`` whose elements
are bounded by ``bound`` in absolute value (checked before sharing). The
result party learns the element-wise sum over the contributing inputs and who
contributed; computing parties learn who contributed; input parties learn
nothing and return as soon as their shares are sent. Fixed point in Z_2^64
with ``frac_bits`` fractional bits: each element of the sum is off by at
most ``contributors · 2^-(frac_bits+1)``; ``bound × inputs × 2^frac_bits``
must stay below 2^62, or the job is refused before it starts. A failure on
the computing or result side (quorum missed, malformed or replayed share,
aggregate out of range) raises :class:`~insitu.errors.ProtocolAbort` on the
result and computing parties. Same threat model as
:mod:`insitu.computations.secure_stats.run`. No DP noise is added: callers
that need it add it to their vectors (e.g. federated learning's clipped,
noised updates) or use the statistics recipes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from insitu.computations.channel import Channel
from insitu.computations.secure_stats import rounds
from insitu.crypto import fixed_point as fp
from insitu.crypto.hashing import canonical_json
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InsituError, InvalidInput, ProtocolAbort


@dataclass(frozen=True)
class VectorSumJob:
    """What every party of a vector-sum job agrees on (public)."""

    job_id: str
    input_parties: tuple[str, ...]
    computing_parties: tuple[str, ...]
    result_party: str
    length: int
    bound: float
    frac_bits: int = 16
    quorum: int | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        names = [*self.input_parties, *self.computing_parties, self.result_party]
        if len(set(names)) != len(names):
            raise InvalidInput("every party name must be distinct and play one role")
        if not 2 <= len(self.computing_parties) <= 3:
            raise InvalidInput("a vector sum needs 2 or 3 computing parties")
        if self.length < 0 or not self.input_parties:
            raise InvalidInput("need at least one input party and a non-negative length")
        if self.quorum is not None and not 1 <= self.quorum <= len(self.input_parties):
            raise InvalidInput("quorum must be between 1 and the number of input parties")
        if (
            fp.frac_bits_for(self.bound * len(self.input_parties), max_frac_bits=self.frac_bits)
            < self.frac_bits
        ):
            raise InvalidInput("bound × inputs × 2^frac_bits leaves no headroom in Z_2^64")

    def roles(self) -> rounds.Roles:
        """Parties, session id (hash of this job) and timeout."""
        digest = hashlib.sha256(canonical_json(self.__dict__ | {"kind": "vector_sum"})).digest()
        return rounds.Roles(
            job_id=self.job_id,
            session=digest[:16],
            input_parties=self.input_parties,
            computing_parties=self.computing_parties,
            result_party=self.result_party,
            timeout=self.timeout,
        )


def run_vector_sum(
    job: VectorSumJob,
    channel: Channel,
    vector: npt.ArrayLike | None = None,
    *,
    rng: Rng = system_rng,
    on_roster: Callable[[tuple[str, ...]], None] = lambda _: None,
) -> npt.NDArray[np.float64] | None:
    """Play ``channel.me``'s role; the result party gets the sum, everyone else ``None``.

    At the result party ``on_roster`` is told which input parties contribute
    (those that shared in time), before the sums are combined.

    Raises
    ------
    InvalidInput
        On an input party whose vector has the wrong length or breaks ``bound``
        (it declines first, so the others can go on under a quorum).
    ProtocolAbort
        On computing and result parties when the job aborts.
    """
    roles, me = job.roles(), channel.me
    if me in job.input_parties:
        try:
            if vector is None:
                raise InvalidInput("an input party needs its vector")
            x = np.asarray(vector, dtype=np.float64).ravel()
            if x.size != job.length:
                raise InvalidInput(f"vector has {x.size} elements, the job says {job.length}")
            words = fp.encode(x, frac_bits=job.frac_bits, bound=job.bound)
        except InsituError as exc:
            rounds.decline(roles, channel, exc.code)
            raise
        rounds.share(roles, channel, 0, words, rng=rng)
        return None
    if vector is not None:
        raise InvalidInput("only input parties bring a vector")
    if me in job.computing_parties:
        rounds.hold(roles, channel, 0, job.length, set(range(len(job.input_parties))))
        return None
    if me != job.result_party:
        raise InvalidInput(f"party {me!r} has no role in job {job.job_id!r}")
    progress = rounds.Progress()
    quorum = job.quorum if job.quorum is not None else len(job.input_parties)
    try:
        indices, total = rounds.reconstruct(
            roles,
            channel,
            progress,
            job.length,
            quorum,
            on_roster=lambda ix: on_roster(tuple(job.input_parties[i] for i in ix)),
        )
        k = len(indices)
        try:
            return fp.decode(
                total, frac_bits=job.frac_bits, lower=-job.bound * k, upper=job.bound * k, slack=k
            )
        except InvalidInput as exc:
            raise ProtocolAbort(f"aggregate failed its range check: {exc.message}") from None
    except InsituError as exc:
        progress.told.update(job.input_parties)  # input parties do not wait for an outcome
        rounds.abort_all(roles, channel, progress, exc.message)
        raise


__all__ = ["VectorSumJob", "run_vector_sum"]
