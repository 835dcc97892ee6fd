"""PRG expansion: determinism, domain separation, and agreement with plain AES."""

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from insitu.crypto.prg import SEED_BYTES, expand_u64, keystream, new_seed
from insitu.crypto.rng import DeterministicRng
from insitu.errors import InvalidInput


def _aes_ecb_counter_blocks(seed: bytes, stream: int, blocks: int) -> bytes:
    """Independent construction: encrypt the counter blocks one by one in ECB mode."""
    enc = Cipher(algorithms.AES(seed), modes.ECB()).encryptor()
    counters = b"".join(stream.to_bytes(8, "big") + i.to_bytes(8, "big") for i in range(blocks))
    return enc.update(counters) + enc.finalize()


@pytest.mark.parametrize("stream", [0, 1, 2**64 - 1])
def test_keystream_is_aes_ctr_over_counter_blocks(stream: int) -> None:
    seed = DeterministicRng(7)(SEED_BYTES)
    assert keystream(seed, 16 * 9, stream=stream) == _aes_ecb_counter_blocks(seed, stream, 9)


def test_expand_reads_keystream_as_little_endian_words() -> None:
    seed = new_seed(DeterministicRng(1))
    words = expand_u64(seed, 33)
    assert words.dtype == np.uint64 and words.flags.writeable
    assert np.array_equal(words, np.frombuffer(keystream(seed, 33 * 8), dtype="<u8"))


def test_streams_and_seeds_are_separated() -> None:
    seed_a, seed_b = new_seed(DeterministicRng(1)), new_seed(DeterministicRng(2))
    a0, a1, b0 = expand_u64(seed_a, 64), expand_u64(seed_a, 64, stream=1), expand_u64(seed_b, 64)
    assert not np.array_equal(a0, a1) and not np.array_equal(a0, b0)
    assert np.array_equal(a0, expand_u64(seed_a, 64))
    assert np.array_equal(expand_u64(seed_a, 10), a0[:10])


def test_odd_lengths_and_empty() -> None:
    seed = new_seed()
    assert len(keystream(seed, 5)) == 5
    assert expand_u64(seed, 0).size == 0


@pytest.mark.parametrize("seed", [b"", bytes(16), bytes(33)])
def test_wrong_seed_length_refused(seed: bytes) -> None:
    with pytest.raises(InvalidInput):
        expand_u64(seed, 4)


def test_wrong_types_refused() -> None:
    with pytest.raises(TypeError):
        expand_u64("x" * 32, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        expand_u64(bytes(32), 4.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        expand_u64(bytes(32), 4, stream=-1)
    with pytest.raises(InvalidInput):
        new_seed(lambda n: bytes(n - 1))
