"""MPyC anchor: secure sum of one BENCH_N-element fixed-point vector per party.

Run by ``secure_stats_vector_sum.py`` as ``python secure_stats_mpyc_sum.py -M3``
(MPyC starts the other parties as local processes talking TCP on loopback).
Each party inputs a vector of MPyC secure fixed-point numbers (``SecFxp(64)``,
secure NumPy arrays, MPyC's fastest path), the parties add them and open the sum.
Prints the time from the first input to the opened sum on party 0.
"""

import os
import time

import numpy as np
from mpyc.runtime import mpc

N = int(os.environ.get("BENCH_N", "1000000"))


async def main() -> None:
    secfxp = mpc.SecFxp(64)
    await mpc.start()
    x = np.random.default_rng(mpc.pid).uniform(-100, 100, N)
    await mpc.barrier()
    t0 = time.perf_counter()
    shared = mpc.input(secfxp.array(x))
    total = shared[0]
    for v in shared[1:]:
        total = total + v
    out = await mpc.output(total)
    t1 = time.perf_counter()
    await mpc.shutdown()
    if mpc.pid == 0:
        expected = sum(np.random.default_rng(i).uniform(-100, 100, N) for i in range(len(shared)))
        err = float(np.max(np.abs(np.asarray(out, dtype=float) - expected)))
        print(f"MPYC_SECONDS {t1 - t0:.4f} MAX_ERROR {err:.3g}", flush=True)


mpc.run(main())
