"""Types of the optional native ristretto255 kernels (``native/ristretto_native.c``)."""

def hash_mult(uniform: bytes, half_scalar: bytes, /) -> bytes:
    """Encodings of ``k · map(block)`` for each 64-byte block; ``half_scalar`` is k/2 mod L."""

def mult(elements: bytes, half_scalar: bytes, /) -> bytes:
    """Encodings of ``k · P`` for each 32-byte encoding; ``half_scalar`` is k/2 mod L."""

def set_lanes(on: bool, /) -> bool:
    """Multiply four points at a time with AVX2 where the CPU has it; returns the state now."""
