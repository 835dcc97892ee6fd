"""Overheads of the audit chain and the custom-code sandbox, against their floors.

Audit: ``append`` and ``verify`` per entry against bare Ed25519 sign/verify
(pyca/cryptography), the cost no signed log can avoid. Sandbox: one
``run_function`` of a trivial function against starting ``python -I`` and
importing pandas + pyarrow in a fresh process, which every isolated run pays.

Run: ``.venv/bin/python benchmarks/audit_sandbox_overhead.py [--entries N] [--runs M]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insitu.crypto.signing import SigningKey
from insitu.node.audit import AuditEntry, append, make_checkpoint, verify
from insitu.node.sandbox import Limits, run_function


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median wall seconds of ``repeat`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def audit(entries: int) -> None:
    key = SigningKey.generate()

    def build() -> list[AuditEntry]:
        chain: list[AuditEntry] = []
        for i in range(entries):
            chain.append(
                append(
                    chain[-1] if chain else None, at="2026-01-01T00:00:00Z", actor="alice",
                    action="request.approved", subject=f"request:{i}",
                    data={"epsilon": 0.1, "policy": "small-dp"}, key=key,
                )
            )  # fmt: skip
        return chain

    chain = build()
    head = make_checkpoint(chain[-1], key=key)
    raw = Ed25519PrivateKey.generate()
    message = b"x" * 32
    signature = raw.sign(message)
    public = raw.public_key()

    t_append = timed(build, 3) / entries
    t_sign = timed(lambda: [raw.sign(message) for _ in range(entries)], 3) / entries
    t_verify = timed(lambda: verify(chain, key.public_key, head=head), 3) / entries
    t_raw_verify = timed(lambda: [public.verify(signature, message) for _ in range(entries)], 3)
    t_raw_verify /= entries
    print(f"audit, {entries} entries (median of 3)")
    rows = [("append", t_append, "Ed25519 sign  ", t_sign)]
    rows.append(("verify", t_verify, "Ed25519 verify", t_raw_verify))
    for name, ours, floor_name, floor in rows:
        print(
            f"  {name:10s} {ours * 1e6:8.1f} µs/entry   {floor_name} {floor * 1e6:6.1f} µs"
            f"   ratio {ours / floor:5.2f}"
        )


def sandbox(runs: int) -> None:
    root = Path(tempfile.mkdtemp())
    pd.DataFrame({"a": range(1000)}).to_parquet(root / "t.parquet")
    source = "def f(t):\n    return int(t['a'].sum())\n"
    tables = {"t": root / "t.parquet"}
    run_function(source, tables=tables, limits=Limits(), workdir=root / "w")  # warm caches
    env = {"ARROW_DEFAULT_MEMORY_POOL": "system", "PATH": os.defpath}
    imports = [sys.executable, "-I", "-c", "import pandas, pyarrow.parquet"]
    t_floor = timed(lambda: subprocess.run(imports, env=env, check=True), runs)
    t_bare = timed(lambda: subprocess.run([sys.executable, "-I", "-c", "pass"], check=True), runs)
    outcome = run_function(source, tables=tables, limits=Limits(), workdir=root / "w")
    t_run = timed(
        lambda: run_function(source, tables=tables, limits=Limits(), workdir=root / "w"), runs
    )
    print(f"sandbox, median of {runs} runs; layers: {', '.join(outcome.layers)}")
    print(f"  run_function            {t_run * 1e3:7.0f} ms")
    print(f"  python -I + imports     {t_floor * 1e3:7.0f} ms   ratio {t_run / t_floor:5.2f}")
    print(f"  python -I, nothing      {t_bare * 1e3:7.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()}")
    audit(args.entries)
    sandbox(args.runs)


if __name__ == "__main__":
    main()
