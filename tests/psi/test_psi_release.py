"""DP release of PSI outputs: integer results, noise that depends on ε, input checks."""

from __future__ import annotations

import statistics

import pytest

from insitu.errors import InvalidInput
from insitu.protocols.psi.release import noisy_cardinality, noisy_count_and_sum, noisy_sum


def test_noise_scale_follows_epsilon() -> None:
    tight = [noisy_cardinality(1000, epsilon=10.0) - 1000 for _ in range(300)]
    loose = [noisy_cardinality(1000, epsilon=0.1) - 1000 for _ in range(300)]
    assert all(isinstance(v, int) for v in tight)
    assert statistics.pstdev(loose) > 5 * statistics.pstdev(tight)
    assert abs(statistics.mean(loose)) < 3  # centred: sd of the mean is about 0.8


def test_sum_noise_scales_with_the_value_bound() -> None:
    small = [noisy_sum(10**6, epsilon=1.0, value_bound=1) - 10**6 for _ in range(200)]
    large = [noisy_sum(10**6, epsilon=1.0, value_bound=1000) - 10**6 for _ in range(200)]
    assert statistics.pstdev(large) > 100 * statistics.pstdev(small)
    count, total = noisy_count_and_sum(5, 50, epsilon=1.0, value_bound=10)
    assert isinstance(count, int) and isinstance(total, int)


@pytest.mark.parametrize("epsilon", [0, -1, float("inf"), float("nan")])
def test_bad_epsilon_is_refused(epsilon: float) -> None:
    with pytest.raises(InvalidInput):
        noisy_cardinality(3, epsilon=epsilon)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(TypeError):
        noisy_cardinality(3, epsilon="1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        noisy_cardinality(-1, epsilon=1.0)
    with pytest.raises(InvalidInput):
        noisy_sum(3, epsilon=1.0, value_bound=0)
