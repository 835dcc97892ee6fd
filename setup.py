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
            depends=[f"{NATIVE}/libsodium/ed25519_ref10.c"],
            # -O2 measured faster than -O3 and -march=native for this code
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
