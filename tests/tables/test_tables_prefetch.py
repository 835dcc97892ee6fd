"""Read-ahead keeps order, raises the producer's error in place, and stops when left early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from insitu.tables.prefetch import prefetch


def test_order_and_error_in_place() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise ValueError("broken at 5")

    seen = []
    with pytest.raises(ValueError, match="broken at 5"):
        for x in prefetch(items(), depth=2):
            seen.append(x)
    assert seen == [0, 1, 2, 3, 4]


def test_leaving_early_stops_the_producer() -> None:
    made = []

    def items() -> Iterator[int]:
        for i in range(1000):
            made.append(i)
            yield i

    before = threading.active_count()
    gen = prefetch(items(), depth=2)
    assert next(gen) == 0
    gen.close()
    assert threading.active_count() == before
    assert len(made) <= 5  # depth 2 ahead, plus the items in hand
