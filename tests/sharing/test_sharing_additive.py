"""Additive sharing: reconstruction, homomorphism, and uniform-looking shares."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from insitu.crypto import sharing
from insitu.crypto.rng import DeterministicRng
from insitu.errors import InvalidInput

words = st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=0, max_size=40)


def _all_shares(secret: np.ndarray, parties: int, seed: int) -> list[np.ndarray]:
    explicit, seeds = sharing.split(secret, parties, rng=DeterministicRng(seed))
    return [explicit] + [sharing.expand(s, secret.size) for s in seeds]


@settings(max_examples=60)
@given(words, st.integers(min_value=2, max_value=5), st.integers(min_value=0, max_value=10**6))
def test_shares_recombine_to_the_secret(values: list[int], parties: int, seed: int) -> None:
    secret = np.array(values, dtype=np.uint64)
    shares = _all_shares(secret, parties, seed)
    assert len(shares) == parties
    assert np.array_equal(sharing.recombine(shares), secret)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)), min_size=1))
def test_sum_of_shares_is_share_of_sum(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=np.uint64)
    b = np.array([p[1] for p in pairs], dtype=np.uint64)
    sa, sb = _all_shares(a, 3, 1), _all_shares(b, 3, 2)
    summed = sharing.recombine([x + y for x, y in zip(sa, sb, strict=True)])
    assert np.array_equal(summed, a + b)


@pytest.mark.parametrize("secret_value", [0, 2**63, 2**64 - 1])
def test_explicit_share_is_uniform_whatever_the_secret(secret_value: int) -> None:
    """Chi-square goodness of fit of the explicit share's bytes and top bits against uniform."""
    secret = np.full(50_000, secret_value, dtype=np.uint64)
    explicit, _ = sharing.split(secret, 3, rng=DeterministicRng(secret_value % 1000 + 3))
    byte_counts = np.bincount(explicit.view(np.uint8), minlength=256)
    assert stats.chisquare(byte_counts).pvalue > 1e-4
    top_counts = np.bincount((explicit >> np.uint64(56)).astype(np.int64), minlength=256)
    assert stats.chisquare(top_counts).pvalue > 1e-4
    # Kolmogorov–Smirnov on the share as a real in [0, 1)
    unit = (explicit >> np.uint64(11)).astype(np.float64) / 2.0**53
    assert stats.kstest(unit, "uniform").pvalue > 1e-4


def test_a_holder_of_a_seed_share_sees_output_independent_of_the_secret() -> None:
    """Seed shares never depend on the secret: same rng, different secrets, same seeds."""
    a = np.zeros(8, dtype=np.uint64)
    b = np.arange(8, dtype=np.uint64)
    _, seeds_a = sharing.split(a, 3, rng=DeterministicRng(5))
    ex_b, seeds_b = sharing.split(b, 3, rng=DeterministicRng(5))
    assert seeds_a == seeds_b
    assert np.array_equal(sharing.recombine([ex_b] + [sharing.expand(s, 8) for s in seeds_b]), b)


def test_misuse_refused() -> None:
    x = np.zeros(4, dtype=np.uint64)
    with pytest.raises(InvalidInput):
        sharing.split(x, 1)
    with pytest.raises(TypeError):
        sharing.split(np.zeros(4, dtype=np.int64), 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        sharing.recombine([])
    with pytest.raises(InvalidInput):
        sharing.recombine([x, np.zeros(3, dtype=np.uint64)])
