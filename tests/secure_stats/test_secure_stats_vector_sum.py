"""Secure sum of real vectors through run_vector_sum."""

import threading

import numpy as np
import pytest

from insitu.computations.channel import InMemoryHub
from insitu.computations.secure_stats import VectorSumJob, run_vector_sum
from insitu.crypto import fixed_point as fp
from insitu.errors import InvalidInput, ProtocolAbort


def _job(**extra) -> VectorSumJob:
    fields = {
        "job_id": "vs",
        "input_parties": ("a", "b", "c"),
        "computing_parties": ("x", "y"),
        "result_party": "r",
        "length": 1000,
        "bound": 50.0,
    }
    return VectorSumJob(**{**fields, **extra})


def _run(job: VectorSumJob, vectors: dict) -> dict:
    parties = [*job.input_parties, *job.computing_parties, job.result_party]
    hub = InMemoryHub(parties)
    out: dict = {}

    def play(name):
        try:
            out[name] = run_vector_sum(job, hub.channel(name), vectors.get(name))
        except Exception as exc:
            out[name] = exc

    threads = [
        threading.Thread(target=play, args=(p,))
        for p in parties
        if p not in job.input_parties or p in vectors
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _vectors(job: VectorSumJob) -> dict:
    rng = np.random.default_rng(3)
    return {p: rng.uniform(-job.bound, job.bound, job.length) for p in job.input_parties}


def test_sum_within_stated_error() -> None:
    job = _job()
    vectors = _vectors(job)
    out = _run(job, vectors)
    err = np.max(np.abs(out["r"] - sum(vectors.values())))
    assert err <= fp.max_error(job.frac_bits, 3) + 1e-9
    assert out["a"] is None and out["x"] is None


def test_bad_vector_declines_and_quorum_goes_on() -> None:
    job = _job(quorum=2, timeout=5)
    vectors = _vectors(job)
    vectors["b"] = vectors["b"] * 10  # breaks the bound
    out = _run(job, vectors)
    assert isinstance(out["b"], InvalidInput)
    assert np.allclose(out["r"], vectors["a"] + vectors["c"], atol=1e-4)


def test_missing_input_without_quorum_aborts_computing_and_result() -> None:
    job = _job(timeout=0.3)
    vectors = _vectors(job)
    del vectors["c"]
    out = _run(job, vectors)
    for party in ("x", "y", "r"):
        assert isinstance(out[party], ProtocolAbort), party


def test_jobs_without_headroom_or_roles_refused() -> None:
    with pytest.raises(InvalidInput, match="headroom"):
        _job(frac_bits=40, bound=1e8)
    with pytest.raises(InvalidInput, match="distinct"):
        VectorSumJob("j", ("a",), ("a", "y"), "r", length=3, bound=1.0)
    with pytest.raises(InvalidInput, match="2 or 3"):
        VectorSumJob("j", ("a",), ("x",), "r", length=3, bound=1.0)
