"""Benchmark: insitu's native ristretto255 PSI kernels against libsodium's calls, one core.

Interleaved rounds in one process; reports the best and the quartile per element of

- multiply: ``mult_batch`` (native: batched double-and-encode, AVX2 lanes where the CPU
  has them) against ``crypto_scalarmult_ristretto255`` per element;
- hash and multiply: ``hash_mult_batch`` against ``crypto_core_ristretto255_from_hash``
  followed by ``crypto_scalarmult_ristretto255`` per element;

and the native kernels with the four-lane path switched off. Every round checks that the
outputs agree byte for byte.

    .venv/bin/python benchmarks/ristretto_kernels.py --n 200 --rounds 60
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from insitu.crypto import ristretto as r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="elements per batch")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    if r._native is None:
        raise SystemExit("the native kernels are not built here (ristretto.BACKEND is libsodium)")
    n = args.n
    scalar = r.random_scalar()
    messages = [os.urandom(16) for _ in range(n)]
    elements = r._hash_mult_batch_libsodium(messages, r.random_scalar(), domain=b"bench")
    lanes = r._native.set_lanes(True)
    cases: dict[str, Callable[[], bytes]] = {
        "multiply, libsodium": lambda: r._mult_batch_libsodium(elements, scalar),
        "multiply, native": lambda: r.mult_batch(elements, scalar),
        "hash+multiply, libsodium": lambda: r._hash_mult_batch_libsodium(
            messages, scalar, domain=b"bench"
        ),
        "hash+multiply, native": lambda: r.hash_mult_batch(messages, scalar, domain=b"bench"),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    one_by_one: dict[str, list[float]] = {"multiply": [], "hash+multiply": []}
    for _ in range(args.rounds):
        outputs: dict[str, bytes] = {}
        for name, run in cases.items():
            t = time.perf_counter()
            outputs[name] = run()
            times[name].append((time.perf_counter() - t) / n * 1e6)
        assert outputs["multiply, libsodium"] == outputs["multiply, native"]
        assert outputs["hash+multiply, libsodium"] == outputs["hash+multiply, native"]
        r._native.set_lanes(False)
        for name in one_by_one:
            t = time.perf_counter()
            cases[f"{name}, native"]()
            one_by_one[name].append((time.perf_counter() - t) / n * 1e6)
        r._native.set_lanes(lanes)
    print(
        f"{n} elements per batch, {args.rounds} rounds; AVX2 lanes: {lanes}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rows = {**times, **{f"{k}, native without lanes": v for k, v in one_by_one.items()}}
    for name, values in rows.items():
        q = statistics.quantiles(values, n=4)
        print(f"  {name:<40} best {min(values):6.1f} us   p25 {q[0]:6.1f} us per element")
    for kind in ("multiply", "hash+multiply"):
        ratio = min(times[f"{kind}, libsodium"]) / min(times[f"{kind}, native"])
        print(f"  {kind}: native is {ratio:.2f}x faster (best against best)")


if __name__ == "__main__":
    main()
