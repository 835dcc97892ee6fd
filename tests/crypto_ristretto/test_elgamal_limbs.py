"""Limb-wise exponential ElGamal: sums decrypt exactly, out-of-range sums are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.crypto import elgamal
from insitu.crypto.rng import DeterministicRng
from insitu.errors import InvalidInput, ProtocolAbort

KEYS = elgamal.LimbKeys.generate(2, DeterministicRng(1))


def encrypt(values: list[int], seed: int = 2) -> list[bytes]:
    blob = elgamal.encrypt_batch(values, KEYS.secrets, DeterministicRng(seed)(64 * len(values)))
    size = elgamal.ciphertext_bytes(2)
    return [blob[i : i + size] for i in range(0, len(blob), size)]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=6))
def test_sum_of_ciphertexts_decrypts_to_sum_of_values(values: list[int]) -> None:
    total = elgamal.add_ciphertexts(encrypt(values), 2)
    fresh = elgamal.rerandomize(total, KEYS.publics, DeterministicRng(3))
    assert fresh != total or not values
    got = elgamal.decrypt_sum(fresh, KEYS.secrets, max_terms=max(1, len(values)))
    assert got == sum(values)


def test_equal_values_give_unlinkable_ciphertexts() -> None:
    a, b = encrypt([5, 5])
    assert a != b


def test_sum_beyond_the_declared_number_of_terms_is_refused() -> None:
    total = elgamal.add_ciphertexts(encrypt([65535, 65535, 65535]), 2)
    with pytest.raises(ProtocolAbort):
        elgamal.decrypt_sum(total, KEYS.secrets, max_terms=1)


def test_limbs_are_checked() -> None:
    assert elgamal.split_limbs(0x12345678, 2) == [0x5678, 0x1234]
    with pytest.raises(InvalidInput):
        elgamal.split_limbs(1 << 32, 2)
    with pytest.raises(TypeError):
        elgamal.split_limbs(True, 2)
    with pytest.raises(ProtocolAbort):
        elgamal.add_ciphertexts([b"\x01" * 96], 2)
