"""The three parties of one secure-aggregation round, each an object with stages.

One round sums the ``uint64`` vectors of several *input* parties:

1. each :class:`ShareDealer` splits its vector (:func:`insitu.crypto.sharing.split`)
   and sends the explicit share to one computing party and a 32-byte seed to
   each of the others;
2. each :class:`ShareHolder` (computing party) collects what arrived and reports
   *which* inputs it holds (``HELD``) to the result party;
3. the :class:`Reconstructor` (result party) fixes the roster — the inputs held
   by every computing party — or aborts when fewer than ``quorum`` remain;
4. each holder adds up the roster's shares, optionally plus its own DP noise
   share, and sends that sum (``AGGREGATE``); the reconstructor adds the sums.

Threat model: semi-honest parties, non-colluding computing parties, private
authenticated channels. A computing party sees one share per input — uniform
in Z_2^64 — and learns only who contributed and the vector length. The result
party learns the sum (plus noise) and who contributed, nothing about single
inputs beyond what the sum implies. Input parties learn nothing. A message out
of stage, from another session or round, duplicated, or malformed raises
:class:`~insitu.errors.ProtocolAbort`; nothing is released after an abort.
Not protected: a malicious party can change the sum undetectably (no MACs);
decoding range checks (:mod:`insitu.crypto.fixed_point`) catch gross cases only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import numpy as np
import numpy.typing as npt

from insitu.crypto import sharing
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort
from insitu.protocols.secure_aggregation import messages as m
from insitu.protocols.secure_aggregation.messages import Kind


class Stage(Enum):
    """Where a party is in its round."""

    NEW = "new"
    COLLECTING = "collecting"
    REPORTED = "reported"
    DONE = "done"


def _need(current: Stage, expected: Stage, action: str) -> None:
    if current is not expected:
        raise ProtocolAbort(f"cannot {action} in stage {current.value}")


class ShareDealer:
    """Input party: splits one vector into one message per computing party.

    Parameters
    ----------
    session, round_:
        Bind the messages to one job and round.
    computing_parties:
        Number of computing parties (2 or more).
    explicit_to:
        Index of the computing party that receives the full-length share;
        the others receive seeds. Rotate it across inputs to spread traffic.
    rng:
        Source of the PRG seeds (OS CSPRNG by default).
    """

    def __init__(
        self,
        *,
        session: bytes,
        round_: int,
        computing_parties: int,
        explicit_to: int,
        rng: Rng = system_rng,
    ) -> None:
        if not 2 <= computing_parties <= sharing.MAX_PARTIES:
            raise InvalidInput("need between 2 and 16 computing parties")
        if not 0 <= explicit_to < computing_parties:
            raise InvalidInput("explicit_to must index a computing party")
        self._session, self._round = session, round_
        self._n, self._explicit_to, self._rng = computing_parties, explicit_to, rng
        self._stage = Stage.NEW

    def deal(self, vector: npt.NDArray[np.uint64]) -> list[bytes]:
        """Messages for computing parties ``0 … n−1``, in order (stage NEW → DONE)."""
        _need(self._stage, Stage.NEW, "deal")
        explicit, seeds = sharing.split(vector, self._n, rng=self._rng)
        out: list[bytes] = []
        seed_iter = iter(seeds)
        for j in range(self._n):
            if j == self._explicit_to:
                out.append(m.pack_vector(Kind.SHARE_VECTOR, self._session, self._round, explicit))
            else:
                body = m.encode_seed(next(seed_iter), vector.size)
                out.append(m.pack(Kind.SHARE_SEED, self._session, self._round, body))
        self._stage = Stage.DONE
        return out

    def decline(self, reason: str) -> bytes:
        """A message telling every computing party this input will not contribute."""
        _need(self._stage, Stage.NEW, "decline")
        self._stage = Stage.DONE
        return m.pack(Kind.DECLINE, self._session, self._round, m.encode_reason(reason))


class ShareHolder:
    """Computing party: collects shares, reports whom it holds, sums the roster.

    Parameters
    ----------
    session, round_:
        The job and round it accepts messages for.
    inputs:
        Number of input parties (indexed ``0 … inputs−1``).
    length:
        Length of every shared vector.
    """

    def __init__(self, *, session: bytes, round_: int, inputs: int, length: int) -> None:
        if inputs < 1 or length < 0:
            raise InvalidInput("need at least one input and a non-negative length")
        self._session, self._round = session, round_
        self._inputs, self._length = inputs, length
        self._held: dict[int, npt.NDArray[np.uint64] | bytes] = {}
        self._closed: set[int] = set()
        self._stage = Stage.COLLECTING

    def accept(self, index: int, payload: bytes) -> bool:
        """Take input ``index``'s message; ``True`` if it holds a share, ``False`` if declined.

        Raises
        ------
        ProtocolAbort
            Out of stage, unknown or repeated input, or a malformed message.
        """
        _need(self._stage, Stage.COLLECTING, "accept shares")
        if not 0 <= index < self._inputs:
            raise ProtocolAbort(f"unknown input index {index}")
        if index in self._closed:
            raise ProtocolAbort(f"second message from input {index}")
        self._closed.add(index)
        kind, body = m.unpack(
            payload,
            session=self._session,
            round_=self._round,
            kinds=(Kind.SHARE_SEED, Kind.SHARE_VECTOR, Kind.DECLINE),
        )
        if kind is Kind.DECLINE:
            return False
        if kind is Kind.SHARE_VECTOR:
            self._held[index] = m.decode_vector(body, self._length)
        else:
            self._held[index] = m.decode_seed(body, self._length)
        return True

    def missing(self, index: int) -> None:
        """Record that input ``index`` sent nothing in time (it is left out)."""
        _need(self._stage, Stage.COLLECTING, "record a dropout")
        if index in self._closed:
            raise ProtocolAbort(f"input {index} already answered")
        self._closed.add(index)

    def held(self) -> bytes:
        """The ``HELD`` report for the result party (stage COLLECTING → REPORTED)."""
        _need(self._stage, Stage.COLLECTING, "report")
        if len(self._closed) != self._inputs:
            raise ProtocolAbort("some inputs have neither answered nor been marked missing")
        self._stage = Stage.REPORTED
        body = m.encode_indices(sorted(self._held))
        return m.pack(Kind.HELD, self._session, self._round, body)

    def aggregate(self, roster: bytes, *, noise: npt.NDArray[np.int64] | None = None) -> bytes:
        """Sum the roster's shares (plus ``noise``) into an ``AGGREGATE`` message.

        Parameters
        ----------
        roster:
            The result party's ``ROSTER`` message (an ``ABORT`` raises).
        noise:
            This party's share of DP noise in grid units, same length as the vector.

        Raises
        ------
        ProtocolAbort
            If the roster names an input this party does not hold, or on abort.
        """
        _need(self._stage, Stage.REPORTED, "aggregate")
        _, body = m.unpack(roster, session=self._session, round_=self._round, kinds=(Kind.ROSTER,))
        chosen = m.decode_indices(body, self._inputs)
        if not set(chosen) <= set(self._held):
            raise ProtocolAbort("roster names an input whose share this party lacks")
        total = np.zeros(self._length, dtype=np.uint64)
        for index in chosen:
            share = self._held[index]
            total += sharing.expand(share, self._length) if isinstance(share, bytes) else share
        if noise is not None:
            if noise.shape != (self._length,) or noise.dtype != np.int64:
                raise InvalidInput("noise must be an int64 vector of the shared length")
            total += noise.view(np.uint64)
        self._held.clear()
        self._stage = Stage.DONE
        return m.pack_vector(Kind.AGGREGATE, self._session, self._round, total)


class Reconstructor:
    """Result party: fixes the roster and adds the computing parties' sums.

    Parameters
    ----------
    session, round_:
        The job and round.
    computing_parties, inputs, length:
        Sizes of the round.
    quorum:
        Fewest inputs that must be in the roster; fewer aborts the round.
    """

    def __init__(
        self,
        *,
        session: bytes,
        round_: int,
        computing_parties: int,
        inputs: int,
        length: int,
        quorum: int,
    ) -> None:
        if not 1 <= quorum <= inputs:
            raise InvalidInput("quorum must be between 1 and the number of inputs")
        self._session, self._round = session, round_
        self._n, self._inputs, self._length, self._quorum = (
            computing_parties,
            inputs,
            length,
            quorum,
        )
        self._reports: dict[int, set[int]] = {}
        self._sums: dict[int, npt.NDArray[np.uint64]] = {}
        self._roster: list[int] = []
        self._stage = Stage.COLLECTING

    def report(self, party: int, payload: bytes) -> None:
        """Take computing party ``party``'s ``HELD`` report."""
        _need(self._stage, Stage.COLLECTING, "take reports")
        self._check_party(party, self._reports)
        _, body = m.unpack(payload, session=self._session, round_=self._round, kinds=(Kind.HELD,))
        self._reports[party] = set(m.decode_indices(body, self._inputs))

    def roster(self) -> tuple[list[int], bytes]:
        """The inputs every computing party holds, and the ``ROSTER`` message.

        Raises
        ------
        ProtocolAbort
            If a report is missing or fewer than ``quorum`` inputs remain; the
            caller should then send :func:`abort_message` to every party.
        """
        _need(self._stage, Stage.COLLECTING, "fix the roster")
        if len(self._reports) != self._n:
            raise ProtocolAbort("a computing party did not report")
        common = sorted(set.intersection(*self._reports.values()))
        if len(common) < self._quorum:
            raise ProtocolAbort(
                f"only {len(common)} of {self._inputs} inputs contributed; quorum is {self._quorum}"
            )
        self._roster = common
        self._stage = Stage.REPORTED
        return common, m.pack(Kind.ROSTER, self._session, self._round, m.encode_indices(common))

    def combine(self, party: int, payload: bytes) -> None:
        """Take computing party ``party``'s ``AGGREGATE`` message."""
        _need(self._stage, Stage.REPORTED, "combine sums")
        self._check_party(party, self._sums)
        _, body = m.unpack(
            payload, session=self._session, round_=self._round, kinds=(Kind.AGGREGATE,)
        )
        self._sums[party] = m.decode_vector(body, self._length)

    def result(self) -> npt.NDArray[np.uint64]:
        """The reconstructed sum over the roster (stage REPORTED → DONE)."""
        _need(self._stage, Stage.REPORTED, "reconstruct")
        if len(self._sums) != self._n:
            raise ProtocolAbort("a computing party's sum is missing")
        total = sharing.recombine([self._sums[j] for j in range(self._n)])
        self._stage = Stage.DONE
        return total

    def _check_party(self, party: int, seen: Mapping[int, object]) -> None:
        if not 0 <= party < self._n:
            raise ProtocolAbort(f"unknown computing party {party}")
        if party in seen:
            raise ProtocolAbort(f"second message from computing party {party}")


def abort_message(session: bytes, round_: int, reason: str) -> bytes:
    """An ``ABORT`` message carrying ``reason`` (never secret values)."""
    return m.pack(Kind.ABORT, session, round_, m.encode_reason(reason))


__all__ = ["Reconstructor", "ShareDealer", "ShareHolder", "Stage", "abort_message"]
