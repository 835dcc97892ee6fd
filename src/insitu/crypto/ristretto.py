"""The ristretto255 prime-order group (RFC 9496) through libsodium, with batch kernels.

Group elements travel as canonical 32-byte encodings; scalars as 32-byte
little-endian integers reduced modulo the group order ``L``. Arithmetic is
libsodium's constant-time code, loaded from the ``rbcl`` wheel (PyPI), which
bundles a full libsodium build; PyNaCl's bundled libsodium lacks ristretto255.

Hash-to-group follows RFC 9496 §4.3.4: 64 uniform bytes are mapped with the
one-way map (two Elligator maps and an addition). :func:`hash_to_group`
produces those 64 bytes as SHA-512 over a length-prefixed domain tag and the
message, so different uses of the group never share points.

The batch kernels (:func:`hash_mult_batch`, :func:`mult_batch`) run on insitu's
native extension when it was compiled at install (``insitu.crypto._ristretto_native``,
libsodium's own ref10 arithmetic with the hash-to-group output kept as a point and a
batched double-and-encode), and on the libsodium calls otherwise; both give the same
bytes. :data:`BACKEND` names the one this process uses; setting the environment
variable ``INSITU_RISTRETTO_BACKEND=libsodium`` before the import picks libsodium even
where the extension exists (to compare the two).

Failures: an invalid encoding, a zero scalar or an identity result raise
:class:`~insitu.errors.InvalidInput` in the single-element functions and
:class:`~insitu.errors.ProtocolAbort` in the batch kernels (which see peer data).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

from insitu.crypto.rng import Rng, system_rng
from insitu.errors import InvalidInput, ProtocolAbort

try:
    import rbcl as _rbcl
except ImportError as exc:  # pragma: no cover - exercised only without the wheel
    raise ImportError(
        "ristretto255 needs libsodium with ristretto support: install the 'rbcl' package "
        "(pip install rbcl)"
    ) from exc

ELEMENT_BYTES = 32
SCALAR_BYTES = 32
HASH_BYTES = 64
#: Order of the ristretto255 group, 2^252 + 27742317777372353535851937790883648493.
ORDER = 2**252 + 27742317777372353535851937790883648493

try:
    from insitu.crypto import _ristretto_native as _native
except ImportError:  # pragma: no cover - exercised only where the extension was not built
    _native = None  # type: ignore[assignment]
#: Which implementation runs the batch kernels in this process.
if os.environ.get("INSITU_RISTRETTO_BACKEND") == "libsodium":
    _native = None  # type: ignore[assignment]
BACKEND = "native" if _native is not None else "libsodium"

_lib: Any = _rbcl._sodium
_mult = _lib.crypto_scalarmult_ristretto255
_mult_base = _lib.crypto_scalarmult_ristretto255_base
_from_hash = _lib.crypto_core_ristretto255_from_hash
_add = _lib.crypto_core_ristretto255_add


def _check_bytes(value: object, size: int, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{what} must be bytes")
    if len(value) != size:
        raise InvalidInput(f"{what} must be {size} bytes, got {len(value)}")
    return value


def scalar_from_int(value: int) -> bytes:
    """Encode ``value mod L`` as a 32-byte little-endian scalar."""
    return (value % ORDER).to_bytes(SCALAR_BYTES, "little")


def scalar_to_int(scalar: bytes) -> int:
    """Decode a 32-byte little-endian scalar (not reduced)."""
    return int.from_bytes(_check_bytes(scalar, SCALAR_BYTES, "scalar"), "little")


def random_scalar(rng: Rng = system_rng) -> bytes:
    """A uniform non-zero scalar: 64 bytes from ``rng`` reduced mod L (RFC 9496 §4.4)."""
    while True:
        value = int.from_bytes(rng(64), "little") % ORDER
        if value:
            return scalar_from_int(value)


def scalar_invert(scalar: bytes) -> bytes:
    """The multiplicative inverse of a non-zero scalar modulo L."""
    value = scalar_to_int(scalar) % ORDER
    if value == 0:
        raise InvalidInput("zero scalar has no inverse")
    return scalar_from_int(pow(value, -1, ORDER))


def from_uniform(data: bytes) -> bytes:
    """RFC 9496 one-way map of 64 uniform bytes to a group element."""
    _check_bytes(data, HASH_BYTES, "uniform input")
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    _from_hash(out, data)
    return out.raw


def _domain_prefix(domain: bytes) -> bytes:
    if not isinstance(domain, bytes):
        raise TypeError("domain must be bytes")
    if not 0 < len(domain) < 256:
        raise InvalidInput("domain must be 1 to 255 bytes")
    return bytes([len(domain)]) + domain


def hash_to_group(message: bytes, *, domain: bytes) -> bytes:
    """Hash ``message`` to ristretto255: one-way map of SHA-512(len(domain) ‖ domain ‖ message)."""
    if not isinstance(message, bytes):
        raise TypeError("message must be bytes")
    return from_uniform(hashlib.sha512(_domain_prefix(domain) + message).digest())


def is_valid(element: object) -> bool:
    """Whether ``element`` is the canonical encoding of a group element (the identity included)."""
    if not isinstance(element, bytes) or len(element) != ELEMENT_BYTES:
        return False
    return bool(_lib.crypto_core_ristretto255_is_valid_point(element) == 1)


def mult(scalar: bytes, element: bytes) -> bytes:
    """``scalar · element``; raises :class:`InvalidInput` on a bad encoding or identity result."""
    _check_bytes(scalar, SCALAR_BYTES, "scalar")
    _check_bytes(element, ELEMENT_BYTES, "element")
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if _mult(out, scalar, element) != 0:
        raise InvalidInput("not a valid ristretto255 element, or the result is the identity")
    return out.raw


def mult_base(scalar: bytes) -> bytes:
    """``scalar · B`` for the standard generator B; the zero scalar is refused."""
    _check_bytes(scalar, SCALAR_BYTES, "scalar")
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if _mult_base(out, scalar) != 0:
        raise InvalidInput("zero scalar")
    return out.raw


def _binary(function: Any, a: bytes, b: bytes) -> bytes:
    _check_bytes(a, ELEMENT_BYTES, "element")
    _check_bytes(b, ELEMENT_BYTES, "element")
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    if function(out, a, b) != 0:
        raise InvalidInput("not a valid ristretto255 element")
    return out.raw


def add(a: bytes, b: bytes) -> bytes:
    """Group addition of two encoded elements (the identity is allowed as a result)."""
    return _binary(_add, a, b)


def sub(a: bytes, b: bytes) -> bytes:
    """Group subtraction ``a - b`` of two encoded elements."""
    return _binary(_lib.crypto_core_ristretto255_sub, a, b)


IDENTITY = bytes(ELEMENT_BYTES)


def sum_elements(elements: Iterable[bytes]) -> bytes:
    """Sum of encoded elements (identity encoding for an empty sum)."""
    total = IDENTITY
    out = ctypes.create_string_buffer(ELEMENT_BYTES)
    for element in elements:
        if total == IDENTITY:
            if not is_valid(element):
                raise InvalidInput("not a valid ristretto255 element")
            total = element
            continue
        if _add(out, total, element) != 0:
            raise InvalidInput("not a valid ristretto255 element")
        total = out.raw
    return total


_HALF = pow(2, -1, ORDER)


def _native_scalar(scalar: bytes) -> bytes:
    """``scalar / 2 mod L`` for the native kernels, which finish with a doubling.

    The top bit is cleared first, as libsodium's ``crypto_scalarmult_ristretto255``
    does, so both backends multiply by the same number.
    """
    value = (scalar_to_int(scalar) & ((1 << 255) - 1)) % ORDER
    return scalar_from_int(value * _HALF)


def hash_mult_batch(messages: Sequence[bytes], scalar: bytes, *, domain: bytes) -> bytes:
    """Batch kernel: ``scalar · hash_to_group(m)`` for each message, concatenated.

    One call per chunk keeps Python overhead low; the output is
    ``32 · len(messages)`` bytes in input order.
    """
    _check_bytes(scalar, SCALAR_BYTES, "scalar")
    if _native is None:
        return _hash_mult_batch_libsodium(messages, scalar, domain=domain)
    prefix = _domain_prefix(domain)
    sha512 = hashlib.sha512
    uniform = b"".join([sha512(prefix + message).digest() for message in messages])
    try:
        products = _native.hash_mult(uniform, _native_scalar(scalar))
    except ValueError as exc:  # pragma: no cover - hash points are never the identity
        raise InvalidInput("hash-to-group times the scalar is the identity") from exc
    return products


def _hash_mult_batch_libsodium(messages: Sequence[bytes], scalar: bytes, *, domain: bytes) -> bytes:
    prefix = _domain_prefix(domain)
    out = bytearray(ELEMENT_BYTES * len(messages))
    point = ctypes.create_string_buffer(ELEMENT_BYTES)
    res = ctypes.create_string_buffer(ELEMENT_BYTES)
    sha512 = hashlib.sha512
    for i, message in enumerate(messages):
        _from_hash(point, sha512(prefix + message).digest())
        if _mult(res, scalar, point) != 0:
            raise InvalidInput("hash-to-group times the scalar is the identity")
        out[ELEMENT_BYTES * i : ELEMENT_BYTES * (i + 1)] = res.raw
    return bytes(out)


def mult_batch(elements: bytes, scalar: bytes) -> bytes:
    """Batch kernel: ``scalar · P`` for each 32-byte element in ``elements``, concatenated.

    Raises :class:`ProtocolAbort` if any element is not a canonical encoding or
    maps to the identity: batch inputs come from a peer.
    """
    _check_bytes(scalar, SCALAR_BYTES, "scalar")
    if not isinstance(elements, bytes):
        raise TypeError("elements must be bytes")
    if len(elements) % ELEMENT_BYTES:
        raise ProtocolAbort("element block is not a multiple of 32 bytes")
    if _native is None:
        return _mult_batch_libsodium(elements, scalar)
    try:
        products = _native.mult(elements, _native_scalar(scalar))
    except ValueError as exc:
        raise ProtocolAbort("peer sent an invalid ristretto255 element") from exc
    return products


def _mult_batch_libsodium(elements: bytes, scalar: bytes) -> bytes:
    out = bytearray(len(elements))
    res = ctypes.create_string_buffer(ELEMENT_BYTES)
    view = memoryview(elements)
    for start in range(0, len(elements), ELEMENT_BYTES):
        if _mult(res, scalar, bytes(view[start : start + ELEMENT_BYTES])) != 0:
            raise ProtocolAbort("peer sent an invalid ristretto255 element")
        out[start : start + ELEMENT_BYTES] = res.raw
    return bytes(out)


__all__ = [
    "BACKEND",
    "ELEMENT_BYTES",
    "HASH_BYTES",
    "IDENTITY",
    "ORDER",
    "SCALAR_BYTES",
    "add",
    "from_uniform",
    "hash_mult_batch",
    "hash_to_group",
    "is_valid",
    "mult",
    "mult_base",
    "mult_batch",
    "random_scalar",
    "scalar_from_int",
    "scalar_invert",
    "scalar_to_int",
    "sub",
    "sum_elements",
]
