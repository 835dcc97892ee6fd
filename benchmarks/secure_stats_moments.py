"""Secure mean and variance over 10^6 rows per holder, 5 holders: computing-party time.

insitu: ``run_secure_stats`` with 5 input parties, 3 computing parties and a
result party as threads over ``InMemoryHub``. Reported: CPU time of each
computing party's thread (what a computing party spends), the input parties'
local time (card check and local sums over 10^6 rows), and the job's wall time.
MPyC anchor: ``secure_stats_mpyc_moments.py -M5``, the same local sums input
as MPyC secure fixed-point numbers (5 parties, loopback TCP).

Usage::

    .venv/bin/python benchmarks/secure_stats_moments.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from insitu.computations.channel import InMemoryHub
from insitu.computations.secure_stats import Mean, SecureStatsSpec, Variance, run_secure_stats
from insitu.tables.card import Card

HERE = Path(__file__).resolve().parent
CARD = Card.from_mapping(
    {"name": "incomes", "columns": [{"name": "income", "type": "float", "lower": 0, "upper": 1e6}]}
)


def table(pid: int, rows: int) -> pd.DataFrame:
    x = np.clip(np.random.default_rng(pid).lognormal(10, 1, rows), 0, 1e6)
    return pd.DataFrame({"income": x})


def run_once(tables: dict[str, pd.DataFrame], rows: int) -> dict[str, object]:
    spec = SecureStatsSpec(
        job_id="moments",
        card=CARD,
        input_parties=list(tables),
        computing_parties=["cp0", "cp1", "cp2"],
        result_party="result",
        statistics=[Mean(column="income"), Variance(column="income")],
        max_rows=rows * len(tables),
    )
    parties = [*spec.input_parties, *spec.computing_parties, spec.result_party]
    hub = InMemoryHub(parties)
    cpu: dict[str, float] = {}
    wall: dict[str, float] = {}
    out: dict[str, object] = {}

    def play(p: str) -> None:
        c0, w0 = time.thread_time(), time.perf_counter()
        out[p] = run_secure_stats(spec, hub.channel(p), tables.get(p))
        cpu[p], wall[p] = time.thread_time() - c0, time.perf_counter() - w0

    t0 = time.perf_counter()
    threads = [threading.Thread(target=play, args=(p,)) for p in parties]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.perf_counter() - t0
    return {
        "wall": total,
        "cp_cpu": max(cpu[c] for c in spec.computing_parties),
        "result_cpu": cpu[spec.result_party],
        "input_cpu": max(cpu[i] for i in spec.input_parties),
        "values": out[spec.result_party].values,  # type: ignore[attr-defined]
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--holders", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-mpyc", action="store_true")
    args = ap.parse_args()
    tables = {f"holder{i}": table(i, args.rows) for i in range(args.holders)}
    pooled = pd.concat(tables.values())["income"]
    runs = [run_once(tables, args.rows) for _ in range(args.repeat)]
    med = {
        k: statistics.median(r[k] for r in runs)
        for k in ("wall", "cp_cpu", "result_cpu", "input_cpu")
    }
    values = runs[0]["values"]
    print(
        f"secure mean and variance, {args.holders} holders x {args.rows:,} rows, 3 computing"
        " parties"
    )
    print(
        f"  mean {values['mean_income']:.6f} (pooled {pooled.mean():.6f}), "
        f"variance {values['variance_income']:.6f} (pooled {pooled.var():.6f})"
    )
    print(f"  computing-party CPU time (max of 3): median {med['cp_cpu'] * 1000:.1f} ms")
    print(f"  result-party CPU time: median {med['result_cpu'] * 1000:.1f} ms")
    print(
        f"  input-party CPU time (card check + local sums, max of {args.holders}): "
        f"median {med['input_cpu'] * 1000:.1f} ms"
    )
    print(f"  job wall time (all parties as threads): median {med['wall'] * 1000:.1f} ms")
    if args.no_mpyc:
        return
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, str(HERE / "secure_stats_mpyc_moments.py"), f"-M{args.holders}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BENCH_ROWS": str(args.rows)},
    )
    mpyc_wall = time.perf_counter() - t0
    f = res.stdout.split()
    mpyc_s = float(f[f.index("MPYC_SECONDS") + 1])
    print(
        f"MPyC 0.11 -M{args.holders} on the same local sums: {mpyc_s * 1000:.1f} ms secure part, "
        f"{mpyc_wall:.2f} s with process start; mean {float(f[f.index('MEAN') + 1]):.6f}"
    )
    print(f"ratio MPyC secure part / insitu computing-party CPU: {mpyc_s / med['cp_cpu']:.1f}x")


if __name__ == "__main__":
    main()
