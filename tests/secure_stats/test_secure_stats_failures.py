"""Dropouts, card violations, malformed shares and overflow: clean failure everywhere."""

import threading

import numpy as np
import pytest
from secure_stats_cps import CARD, pooled, spec, split

from insitu.computations.channel import InMemoryHub
from insitu.computations.secure_stats import (
    Count,
    Mean,
    SecureStatsSpec,
    Variance,
    check_spec,
    run_secure_stats,
    simulate_all,
)
from insitu.computations.secure_stats.control import msg_id
from insitu.computations.secure_stats.layout import Layout
from insitu.crypto.rng import DeterministicRng
from insitu.errors import CardViolation, InvalidInput, ProtocolAbort
from insitu.protocols.secure_aggregation import ShareDealer
from insitu.tables.card import Card

STATS = [Count(), Mean(column="wage")]


def _bad(table):
    bad = table.copy()
    bad.iloc[0, bad.columns.get_loc("wage")] = 1e9  # above the card's upper bound
    return bad


def test_card_violation_declines_and_quorum_leaves_it_out() -> None:
    tables = split(3)
    tables["holder1"] = _bad(tables["holder1"])
    out = simulate_all(spec(STATS, quorum=2), tables)
    assert isinstance(out["holder1"], CardViolation)
    assert "wage" in str(out["holder1"]) and "1000000000" not in str(out["holder1"])
    result = out["analyst"]
    rest = [tables["holder0"], tables["holder2"]]
    assert result.values["count"] == sum(len(t) for t in rest)
    assert result.receipt.left_out == ["holder1"]
    assert sorted(result.receipt.contributors) == ["holder0", "holder2"]
    assert out["holder0"].receipt.left_out == ["holder1"]
    assert out["cp0"].receipt.contributors == result.receipt.contributors


def test_holder_checks_its_own_card_too() -> None:
    """Rows within the common card but outside the holder's own, tighter card are refused."""
    tables = split(3)
    data = CARD.to_dict()
    for col in data["columns"]:
        if col["name"] == "wage":
            col["upper"] = 100.0
    own = Card.from_mapping(data)
    job = spec(STATS, quorum=2)
    parties = [*job.input_parties, *job.computing_parties, job.result_party]
    hub = InMemoryHub(parties)
    out = {}

    def play(name):
        try:
            card = own if name == "holder0" else None
            out[name] = run_secure_stats(job, hub.channel(name), tables.get(name), card=card)
        except Exception as exc:
            out[name] = exc

    threads = [threading.Thread(target=play, args=(p,)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(out["holder0"], CardViolation)
    assert "cps1988.wage" in str(out["holder0"])
    assert out["analyst"].receipt.left_out == ["holder0"]


def test_card_violation_without_quorum_fails_everywhere() -> None:
    tables = split(3)
    tables["holder2"] = _bad(tables["holder2"])
    out = simulate_all(spec(STATS), tables)
    assert isinstance(out.pop("holder2"), CardViolation)
    assert len(out) == 6
    for party, outcome in out.items():
        assert isinstance(outcome, ProtocolAbort), party
        assert "quorum" in str(outcome)


def test_absent_party_times_out_and_is_left_out_under_quorum() -> None:
    tables = split(3)
    out = simulate_all(spec(STATS, quorum=2, timeout=2.0), tables, absent=["holder0"])
    assert out["analyst"].receipt.left_out == ["holder0"]
    assert out["analyst"].values["count"] == len(tables["holder1"]) + len(tables["holder2"])
    assert "holder0" not in out


def test_absent_party_without_quorum_fails_everywhere() -> None:
    out = simulate_all(spec(STATS, timeout=0.5), split(3), absent=["holder0"])
    assert all(isinstance(o, ProtocolAbort) for o in out.values())


def _run_with_rogue(rogue, tables, job_spec):
    """Run every party but ``holder0``, which is played by ``rogue(channel)``."""
    parties = [*job_spec.input_parties, *job_spec.computing_parties, job_spec.result_party]
    hub = InMemoryHub(parties)
    out = {}

    def play(name):
        try:
            if name == "holder0":
                rogue(hub.channel(name))
                out[name] = None
            else:
                out[name] = run_secure_stats(job_spec, hub.channel(name), tables.get(name))
        except Exception as exc:
            out[name] = exc

    threads = [threading.Thread(target=play, args=(p,)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


@pytest.mark.parametrize(
    "mangle",
    [lambda b: b[:-8], lambda b: b + b"x", lambda b: bytes([9]) + b[1:], lambda b: b[:10]],
)
def test_malformed_share_aborts_every_party(mangle) -> None:
    job = spec(STATS, timeout=5)

    def rogue(channel):
        dealer = ShareDealer(session=job.session(), round_=0, computing_parties=3, explicit_to=0)
        msgs = dealer.deal(np.zeros(3, dtype=np.uint64))
        for j, cp in enumerate(job.computing_parties):
            channel.send(cp, msg_id(job.job_id, 0, "share"), mangle(msgs[j]) if j == 0 else msgs[j])

    out = _run_with_rogue(rogue, split(3), job)
    for party in ["holder1", "holder2", "cp0", "cp1", "cp2", "analyst"]:
        assert isinstance(out[party], ProtocolAbort), (party, out[party])


def test_replayed_share_from_another_job_aborts() -> None:
    job = spec(STATS, timeout=5)
    other = spec(STATS, job_id="another-job")

    def rogue(channel):
        dealer = ShareDealer(session=other.session(), round_=0, computing_parties=3, explicit_to=0)
        for cp, msg in zip(job.computing_parties, dealer.deal(np.zeros(3, dtype=np.uint64))):
            channel.send(cp, msg_id(job.job_id, 0, "share"), msg)

    out = _run_with_rogue(rogue, split(3), job)
    assert all(isinstance(out[p], ProtocolAbort) for p in ["cp0", "analyst", "holder1"])
    assert "another session" in str(out["cp0"])


def test_out_of_range_contribution_is_detected_at_decoding() -> None:
    """A holder that skips its bounds check and shares a huge sum cannot slip it through."""
    job = spec(STATS, timeout=5)

    def rogue(channel):
        huge = np.array([5, 2**62, 0], dtype=np.uint64)  # sum of (wage - centre) far out of range
        dealer = ShareDealer(
            session=job.session(),
            round_=0,
            computing_parties=3,
            explicit_to=0,
            rng=DeterministicRng(1),
        )
        for cp, msg in zip(job.computing_parties, dealer.deal(huge)):
            channel.send(cp, msg_id(job.job_id, 0, "share"), msg)

    out = _run_with_rogue(rogue, split(3), job)
    assert isinstance(out["analyst"], ProtocolAbort)
    assert "range" in str(out["analyst"])
    assert all(isinstance(out[p], ProtocolAbort) for p in ["cp0", "cp1", "cp2", "holder1"])


def test_more_rows_than_declared_refused_before_sharing() -> None:
    tables = split(3)
    out = simulate_all(spec(STATS, max_rows=5000, quorum=2), tables)
    # each holder has ~9,400 rows > 5,000: every holder declines, the quorum fails
    assert all(isinstance(out[h], InvalidInput) for h in tables)
    assert isinstance(out["analyst"], ProtocolAbort)


def test_unknown_party_and_table_misuse() -> None:
    job = spec(STATS)
    hub = InMemoryHub(["holder0", "cp0", "stranger"])
    with pytest.raises(InvalidInput, match="no role"):
        run_secure_stats(job, hub.channel("stranger"))
    with pytest.raises(InvalidInput, match="only input parties"):
        run_secure_stats(job, hub.channel("cp0"), pooled())


def test_bad_specs_refused() -> None:
    good = spec(STATS).model_dump()
    with pytest.raises(InvalidInput, match="distinct"):
        SecureStatsSpec.parse({**good, "result_party": "holder0"})
    with pytest.raises(InvalidInput, match="computing_parties"):
        SecureStatsSpec.parse({**good, "computing_parties": ["cp0"]})
    with pytest.raises(InvalidInput, match="quorum"):
        SecureStatsSpec.parse({**good, "quorum": 4})
    # Σ (wage − centre)² over 2^40 rows cannot fit in Z_2^64: refused up front, not wrapped later
    with pytest.raises(InvalidInput, match="fit"):
        Layout(spec([Variance(column="wage")], max_rows=2**40))
    with pytest.raises(InvalidInput, match="bounds"):
        Layout(spec([Mean(column="region")]))
    with pytest.raises(InvalidInput, match="unknown column 'income'"):
        check_spec(spec([Mean(column="income")]).model_dump())
    assert check_spec(good).job_id == "cps-job"
