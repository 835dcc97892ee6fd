"""Build the optional native ristretto255 kernels; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or on a platform without 128-bit
integers) the install still succeeds and ``insitu.crypto.ristretto`` runs the same
kernels through libsodium (``rbcl``), more slowly. ``insitu.crypto.ristretto.BACKEND``
says which one a process uses.
"""

from setuptools import Extension, setup

NATIVE = "src/insitu/crypto/native"

setup(
    ext_modules=[
        Extension(
            "insitu.crypto._ristretto_native",
            sources=[f"{NATIVE}/ristretto_native.c"],
            include_dirs=[f"{NATIVE}/shim", f"{NATIVE}/libsodium"],
            depends=[f"{NATIVE}/libsodium/ed25519_ref10.c", f"{NATIVE}/lanes_avx2.h"],
            # -O3 measured fastest (the AVX2 lanes gain most); -march=native gained nothing
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
