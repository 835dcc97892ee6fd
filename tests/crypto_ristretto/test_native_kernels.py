"""The native batch kernels give libsodium's bytes, and refuse what libsodium refuses."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from insitu.crypto import ristretto as r
from insitu.errors import ProtocolAbort

VECTORS = json.loads(
    (Path(__file__).parents[1] / "vectors" / "ristretto255_rfc9496.json").read_text()
)
native = pytest.mark.skipif(
    r._native is None,
    reason="insitu's native ristretto255 extension was not compiled at install "
    "(no C compiler with 128-bit integers); the libsodium kernels run instead",
)
DOMAIN = b"insitu/tests/native"


@pytest.fixture(params=[True, False], ids=["lanes", "one-by-one"])
def lanes(request: pytest.FixtureRequest) -> object:
    """Run a test with the AVX2 four-lane multiplication and without it."""
    if r._native is None:
        pytest.skip("insitu's native ristretto255 extension was not compiled at install")
    before = r._native.set_lanes(True)
    now = r._native.set_lanes(request.param)
    if request.param and not now:
        pytest.skip("this CPU has no AVX2: the four-lane path cannot run")
    yield now
    r._native.set_lanes(before)


def test_ci_builds_the_native_kernels() -> None:
    if os.environ.get("INSITU_REQUIRE_NATIVE") != "1":
        pytest.skip(
            "INSITU_REQUIRE_NATIVE=1 not set (.ci/run sets it); elsewhere a compiler may be missing"
        )
    assert r.BACKEND == "native"


@native
def test_lanes_run_where_the_cpu_has_avx2() -> None:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to tell whether this CPU has AVX2")
    has_avx2 = " avx2" in cpuinfo.read_text()
    before = r._native.set_lanes(True)
    try:
        assert r._native.set_lanes(True) is has_avx2
    finally:
        r._native.set_lanes(before)


@native
@pytest.mark.parametrize("count", [0, 1, 2, 511, 512, 513, 1100])
def test_hash_mult_matches_libsodium_across_block_edges(count: int, lanes: bool) -> None:
    messages = [os.urandom(1 + i % 40) for i in range(count)]
    for scalar in (r.random_scalar(), r.scalar_from_int(1), r.scalar_from_int(r.ORDER - 1)):
        expected = r._hash_mult_batch_libsodium(messages, scalar, domain=DOMAIN)
        assert r.hash_mult_batch(messages, scalar, domain=DOMAIN) == expected


@native
@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 512, 700])
def test_mult_matches_libsodium_across_block_edges(count: int, lanes: bool) -> None:
    elements = b"".join(r.hash_to_group(os.urandom(16), domain=DOMAIN) for _ in range(count))
    for scalar in (r.random_scalar(), r.scalar_from_int(2), r.scalar_from_int(r.ORDER - 1)):
        assert r.mult_batch(elements, scalar) == r._mult_batch_libsodium(elements, scalar)


@native
def test_multiples_of_the_generator_from_the_rfc(lanes: bool) -> None:
    multiples = [bytes.fromhex(h) for h in VECTORS["multiples_of_generator"]]
    generator = multiples[1]
    for k, expected in enumerate(multiples[1:], start=1):
        assert r.mult_batch(generator * 5, r.scalar_from_int(k)) == expected * 5


@native
def test_hash_mult_is_the_rfc_one_way_map_times_the_scalar(lanes: bool) -> None:
    scalar = r.random_scalar()
    pairs = VECTORS["one_way_map"]
    uniform = b"".join(bytes.fromhex(pair["input"]) for pair in pairs)
    expected = b"".join(r.mult(scalar, bytes.fromhex(pair["output"])) for pair in pairs)
    assert len(pairs) >= 4
    assert r._native.hash_mult(uniform, r._native_scalar(scalar)) == expected


@native
def test_unreduced_scalars_multiply_as_libsodium_does(lanes: bool) -> None:
    element = r.hash_to_group(b"x", domain=DOMAIN) * 4
    for value in (r.ORDER, r.ORDER + 5, 2**255 - 1, 2**256 - 1, 2**255 + 7):
        scalar = value.to_bytes(32, "little")
        try:
            expected = r._mult_batch_libsodium(element, scalar)
        except ProtocolAbort:
            with pytest.raises(ProtocolAbort):
                r.mult_batch(element, scalar)
        else:
            assert r.mult_batch(element, scalar) == expected


@native
@pytest.mark.parametrize(
    "encoding",
    [h for group in VECTORS["invalid_encodings"].values() for h in group if len(h) == 64]
    + ["00" * 32],
)
@pytest.mark.parametrize("position", [0, 5, 600])
def test_invalid_or_identity_elements_abort_the_batch(
    encoding: str, position: int, lanes: bool
) -> None:
    good = [r.hash_to_group(bytes([i % 256, i // 256]), domain=DOMAIN) for i in range(700)]
    good[position] = bytes.fromhex(encoding)
    with pytest.raises(ProtocolAbort, match="invalid ristretto255 element"):
        r.mult_batch(b"".join(good), r.random_scalar())
    with pytest.raises(ProtocolAbort):
        r._mult_batch_libsodium(b"".join(good), r.random_scalar())


@native
def test_a_zero_scalar_is_refused_by_both_backends() -> None:
    element = r.hash_to_group(b"x", domain=DOMAIN)
    with pytest.raises(ProtocolAbort):
        r.mult_batch(element, bytes(32))
    with pytest.raises(ProtocolAbort):
        r._mult_batch_libsodium(element, bytes(32))


@native
def test_kernel_arguments_are_checked() -> None:
    half = r._native_scalar(r.random_scalar())
    with pytest.raises(ValueError, match="32 bytes"):
        r._native.mult(bytes(32), half[:31])
    with pytest.raises(ValueError, match="below 2"):
        r._native.mult(bytes(32), half[:31] + b"\x80")
    with pytest.raises(ValueError, match="multiple of 32"):
        r._native.mult(bytes(33), half)
    with pytest.raises(ValueError, match="multiple of 64"):
        r._native.hash_mult(bytes(65), half)
    with pytest.raises(TypeError):
        r._native.mult("text", half)  # type: ignore[arg-type]


@native
def test_native_products_feed_psi_tags_as_before(lanes: bool) -> None:
    # The receiver's unblinding (mult by the inverse) undoes its blinding exactly.
    items = [hashlib.sha256(bytes([i])).digest() for i in range(50)]
    a, k = r.random_scalar(), r.random_scalar()
    blinded = r.hash_mult_batch(items, a, domain=DOMAIN)
    unblinded = r.mult_batch(r.mult_batch(blinded, k), r.scalar_invert(a))
    assert unblinded == r.hash_mult_batch(items, k, domain=DOMAIN)
