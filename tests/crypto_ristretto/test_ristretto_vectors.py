"""Known-answer vectors of RFC 9496 Appendix A against our ristretto255 binding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from insitu.crypto import ristretto as r
from insitu.errors import InvalidInput

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "ristretto255_rfc9496.json").read_text()
)


def test_multiples_of_generator_match_base_mult_and_repeated_addition() -> None:
    multiples = [bytes.fromhex(h) for h in VECTORS["multiples_of_generator"]]
    assert multiples[0] == r.IDENTITY
    generator = multiples[1]
    running = r.IDENTITY
    for k, expected in enumerate(multiples):
        if k:
            assert r.mult_base(r.scalar_from_int(k)) == expected
            assert r.mult(r.scalar_from_int(k), generator) == expected
            assert r.is_valid(expected)
        assert running == expected
        running = r.sum_elements([running, generator])


@pytest.mark.parametrize(
    "encoding",
    [h for group in VECTORS["invalid_encodings"].values() for h in group],
)
def test_invalid_encodings_are_rejected(encoding: str) -> None:
    element = bytes.fromhex(encoding)
    assert not r.is_valid(element)
    with pytest.raises(InvalidInput):
        r.mult(r.scalar_from_int(1), element)
    with pytest.raises(InvalidInput):
        r.add(element, bytes.fromhex(VECTORS["multiples_of_generator"][1]))


@pytest.mark.parametrize("pair", VECTORS["one_way_map"])
def test_one_way_map(pair: dict[str, str]) -> None:
    assert r.from_uniform(bytes.fromhex(pair["input"])).hex() == pair["output"]


def test_one_way_map_inputs_with_the_same_output() -> None:
    same = VECTORS["one_way_map_same_output"]
    for data in same["inputs"]:
        assert r.from_uniform(bytes.fromhex(data)).hex() == same["output"]
