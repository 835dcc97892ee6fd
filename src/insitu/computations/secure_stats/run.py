"""Entry points: run one party of a secure-statistics job, or simulate all of them.

Threat model (the job as a whole): semi-honest parties; the 2–3 computing
parties do not collude with each other; channels are private and
authenticated (the node's signed peer transport). Input parties learn only
the receipt (and, for logistic regression, the coefficients of each Newton
step); computing parties learn only who contributed and vector sizes; the
result party learns the requested statistics — exact, or with distributed
discrete Gaussian noise at the stated ρ-zCDP — and the aggregate sums they
are computed from. A party that deviates is caught only where a message is
malformed, replayed, out of order or out of range; see
:mod:`insitu.protocols.secure_aggregation` for what is not protected.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from insitu.computations.channel import Channel, InMemoryHub
from insitu.computations.secure_stats.layout import Layout
from insitu.computations.secure_stats.parties import run_computing, run_input
from insitu.computations.secure_stats.receipt import SecureStatsResult
from insitu.computations.secure_stats.result_party import run_result
from insitu.computations.secure_stats.spec import SecureStatsSpec
from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput
from insitu.tables.card import Card


def _as_spec(spec: SecureStatsSpec | Mapping[str, Any]) -> SecureStatsSpec:
    if isinstance(spec, SecureStatsSpec):
        return spec
    return SecureStatsSpec.parse(spec)


def check_spec(spec: SecureStatsSpec | Mapping[str, Any]) -> SecureStatsSpec:
    """Validate a spec fully (columns, bounds, headroom) before any party runs it.

    Raises
    ------
    InvalidInput
        With the first problem found; every party would raise the same at start.
    """
    parsed = _as_spec(spec)
    Layout(parsed)
    return parsed


def run_secure_stats(
    spec: SecureStatsSpec | Mapping[str, Any],
    channel: Channel,
    table: pd.DataFrame | None = None,
    *,
    card: Card | None = None,
    rng: Rng = system_rng,
) -> SecureStatsResult:
    """Play this party's role (taken from ``channel.me``) in the job ``spec``.

    Parameters
    ----------
    spec:
        The agreed job spec (or its JSON mapping).
    channel:
        This party's end of the job's channel; party names are the spec's.
    table:
        The local table, for an input party only.
    card:
        The input party's own dataset card, checked besides the spec's card.
    rng:
        Source of share seeds (OS CSPRNG by default).

    Returns
    -------
    SecureStatsResult
        The receipt, and for the result party the statistics.

    Raises
    ------
    CardViolation
        On an input party whose rows break a card (after declining the job).
    ProtocolAbort
        On every party when the job aborts (quorum missed, malformed or
        replayed message, aggregate out of range).
    Unavailable
        When a peer does not answer in time.
    """
    parsed = _as_spec(spec)
    layout = Layout(parsed)
    me = channel.me
    if me in parsed.input_parties:
        return run_input(parsed, layout, channel, table, card=card, rng=rng)
    if table is not None:
        raise InvalidInput("only input parties take a table")
    if me in parsed.computing_parties:
        return run_computing(parsed, layout, channel)
    if me == parsed.result_party:
        return run_result(parsed, layout, channel)
    raise InvalidInput(f"party {me!r} has no role in job {parsed.job_id!r}")


def simulate_all(
    spec: SecureStatsSpec | Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    *,
    absent: Collection[str] = (),
    rng: Rng = system_rng,
) -> dict[str, SecureStatsResult | Exception]:
    """Run every party in its own thread over an :class:`InMemoryHub`.

    Input parties missing from ``tables`` or named in ``absent`` never start
    (a failure before sharing). Returns each started party's result or error.
    """
    parsed = _as_spec(spec)
    parties = [*parsed.input_parties, *parsed.computing_parties, parsed.result_party]
    hub = InMemoryHub(parties)
    outcomes: dict[str, SecureStatsResult | Exception] = {}
    lock = threading.Lock()

    def play(name: str) -> None:
        try:
            outcome: SecureStatsResult | Exception = run_secure_stats(
                parsed, hub.channel(name), tables.get(name), rng=rng
            )
        except Exception as exc:  # collected and re-raised by the caller
            outcome = exc
        with lock:
            outcomes[name] = outcome

    started = [
        p for p in parties if p not in absent and (p not in parsed.input_parties or p in tables)
    ]
    threads = [threading.Thread(target=play, args=(p,), name=p) for p in started]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def simulate(
    spec: SecureStatsSpec | Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    *,
    absent: Collection[str] = (),
    rng: Rng = system_rng,
) -> SecureStatsResult:
    """Run all parties in one process and return the result party's outcome (or raise its error)."""
    parsed = _as_spec(spec)
    outcome = simulate_all(parsed, tables, absent=absent, rng=rng)[parsed.result_party]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


__all__ = ["check_spec", "run_secure_stats", "simulate", "simulate_all"]
