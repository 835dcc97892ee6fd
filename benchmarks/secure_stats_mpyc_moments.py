"""MPyC anchor for secure mean and variance: each party inputs its local (n, Σx, Σx²).

Run by ``secure_stats_moments.py`` as ``python secure_stats_mpyc_moments.py -M5``.
The local sums over BENCH_ROWS rows are computed before the clock starts (as
insitu's input parties do); timed is the secure part: input, add, open, and the
division in the clear on the opened sums.
"""

import os
import time

import numpy as np
from mpyc.runtime import mpc

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))


def local_sums(pid: int) -> list[float]:
    x = np.clip(np.random.default_rng(pid).lognormal(10, 1, ROWS), 0, 1e6)
    c = 5e5
    return [float(ROWS), float(np.sum(x - c)), float(np.sum((x - c) ** 2))]


async def main() -> None:
    secfxp = mpc.SecFxp(128, 32)  # Σ(x−c)² over 5·10^6 rows needs ~80 integer bits
    await mpc.start()
    mine = local_sums(mpc.pid)
    await mpc.barrier()
    t0 = time.perf_counter()
    shared = mpc.input([secfxp(v) for v in mine])
    totals = [mpc.sum([s[k] for s in shared]) for k in range(3)]
    n, s1, s2 = (float(v) for v in await mpc.output(totals))
    mean = 5e5 + s1 / n
    var = (s2 - s1 * s1 / n) / (n - 1)
    t1 = time.perf_counter()
    await mpc.shutdown()
    if mpc.pid == 0:
        print(f"MPYC_SECONDS {t1 - t0:.4f} MEAN {mean:.6f} VAR {var:.6f}", flush=True)


mpc.run(main())
