"""What a computing party sees, and the distributed DP option."""

import threading

import numpy as np
import pytest
from scipy import stats
from secure_stats_cps import pooled, spec, split

from insitu.computations.channel import InMemoryHub
from insitu.computations.secure_stats import (
    Count,
    DpOption,
    Histogram,
    Mean,
    Ols,
    run_secure_stats,
    simulate,
)
from insitu.computations.secure_stats import noise as dpnoise
from insitu.computations.secure_stats.layout import Layout
from insitu.crypto.rng import DeterministicRng
from insitu.protocols.secure_aggregation import messages as m
from insitu.tables.card import Card


class SpyHub(InMemoryHub):
    """An in-memory hub that also keeps every payload delivered to one party."""

    def __init__(self, parties, spy_on):
        super().__init__(parties)
        self.spy_on, self.seen = spy_on, []

    def _deliver(self, sender, to, msg_id, payload):
        if to == self.spy_on:
            self.seen.append((sender, msg_id, bytes(payload)))
        super()._deliver(sender, to, msg_id, payload)


def test_computing_party_sees_uniform_shares_and_few_bytes() -> None:
    job = spec([Histogram(name="wage_bins", column="wage", bins=20_000)])
    tables = split(3)
    parties = [*job.input_parties, *job.computing_parties, job.result_party]
    hub = SpyHub(parties, spy_on="cp0")
    threads = [
        threading.Thread(
            target=run_secure_stats,
            args=(job, hub.channel(p), tables.get(p)),
            kwargs={"rng": DeterministicRng(p.encode())},  # pinned so the fit test is stable
        )
        for p in parties
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    length = Layout(job).length(0)
    shares = [p for s, mid, p in hub.seen if s.startswith("holder")]
    assert len(shares) == 3
    for payload in shares:
        assert len(payload) <= 8 * length + 64  # at most 8 bytes per element, plus headers
    explicit = [p for p in shares if p[1] == m.Kind.SHARE_VECTOR]
    assert len(explicit) == 1  # the explicit share of holder0 only; others sent seeds
    words = np.frombuffer(explicit[0][22 + 8 :], dtype="<u8")
    # The histogram is mostly zeros and small counts; its share must look uniform.
    byte_counts = np.bincount(words.view(np.uint8), minlength=256)
    assert stats.chisquare(byte_counts).pvalue > 1e-4
    top = np.bincount((words >> np.uint64(56)).astype(np.int64), minlength=256)
    assert stats.chisquare(top).pvalue > 1e-4


def test_sigma_calibration_spends_exactly_rho() -> None:
    job = spec(
        [
            Count(),
            Mean(column="wage"),
            Histogram(column="region"),
            Ols(y="log_wage", x=["education"]),
        ],
        dp=DpOption(rho=0.5),
    )
    layout = Layout(job)
    sig = dpnoise.sigmas(layout, 0.5)
    assert dpnoise.rho_spent(layout, sig) == pytest.approx(0.5, rel=1e-12)
    # by hand for the moments block: Σ_s Δ_s² / (2σ_s²) over its two slots
    b = layout.block("moments:wage:None")
    half = (20000 - 50) / 2
    deltas = [half * 2.0 ** b.frac_bits[0] + 1, half**2 * 2.0 ** b.frac_bits[1] + 1]
    by_hand = sum(d**2 / (2 * s**2) for d, s in zip(deltas, sig[b.key], strict=True))
    assert by_hand == pytest.approx(0.5 / len(layout.blocks), rel=1e-12)
    # the finer slot (Σ(x − c)) gets less noise in real units than the coarse one
    std = dpnoise.noise_std(layout, 0.5, 3)[b.key]
    assert std["noise_std:sum_wd"] < std["noise_std:sum_wd2"]
    hist = layout.block("hist:region:None:None")
    assert dpnoise.sensitivity(layout, hist) == 1.0  # one row moves one cell by one


def test_dp_release_is_noisy_close_and_charged() -> None:
    d = pooled()
    job = spec([Count(), Mean(column="log_wage"), Histogram(column="region")], dp=DpOption(rho=1.0))
    first = simulate(job, split(3))
    second = simulate(job, split(3))
    r = first.receipt
    assert r.rho == 1.0
    std = r.precision["count"]["noise_std"]
    assert std > 1.0  # three parties' noise, σ ≈ 1.73 per party for ρ/3
    assert abs(first.values["count"] - len(d)) < 12 * std
    region = d["region"].value_counts()
    hstd = r.precision["hist:region:None:None"]["noise_std"]
    for k, v in first.values["histogram_region"].items():
        assert abs(v - region[k]) < 12 * hstd
    assert first.values["mean_log_wage"] == pytest.approx(d["log_wage"].mean(), abs=0.01)
    # noise is fresh each run: two runs do not release the same numbers
    assert (first.values["count"], first.values["histogram_region"]) != (
        second.values["count"],
        second.values["histogram_region"],
    )


def test_privacy_unit_scales_sensitivity() -> None:
    job = spec([Count(), Mean(column="wage")])
    data = job.card.to_dict()
    data["columns"].append({"name": "person", "type": "string"})
    data["privacy_unit"] = {"column": "person", "max_rows": 3}
    per_person = Layout(job.model_copy(update={"card": Card.from_mapping(data)}))
    per_row = Layout(job)
    assert dpnoise.rows_per_unit(per_person) == 3 and dpnoise.rows_per_unit(per_row) == 1
    assert dpnoise.sensitivity(per_person, per_person.block("count")) == 3.0
    moments = "moments:wage:None"
    ratio = dpnoise.sensitivity(per_person, per_person.block(moments)) / dpnoise.sensitivity(
        per_row, per_row.block(moments)
    )
    assert ratio == pytest.approx(3.0, rel=1e-6)
