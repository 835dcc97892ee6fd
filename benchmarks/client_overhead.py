"""What the Python client and the CLI add on top of plain HTTP calls to a real node.

Run:  .venv/bin/python benchmarks/client_overhead.py [--calls 400] [--cli-runs 5]

The node runs as its own process (uvicorn, one worker) on loopback. Measured
in the same run, sequentially, median per call:

- ``insitu`` client: ``node.me`` and ``Request.refresh()`` (auth, JSON decode,
  records, error mapping) against the anchor, the same GET through a bare,
  reused ``httpx.Client``;
- a fresh ``httpx.Client`` per call (what a client that does not pool pays);
- the CLI: ``insitu member list --json`` as a new process, against the floor
  of a Python process that only imports httpx.
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

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.livenode import LiveNode  # noqa: E402

from insitu.client import connect  # noqa: E402

SOURCE = "def n(people):\n    return len(people)\n"


def paired(
    ours: Callable[[], object], anchor: Callable[[], object], calls: int
) -> tuple[float, float]:
    """Median seconds per call of each, timed alternately so load changes hit both alike."""
    for _ in range(20):
        ours()
        anchor()
    a: list[float] = []
    b: list[float] = []
    for _ in range(calls):
        for fn, into in ((ours, a), (anchor, b)):
            t0 = time.perf_counter()
            fn()
            into.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def process_time(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = LiveNode.create(Path(tmp), "bench").start()
        try:
            csv = Path(tmp) / "people.csv"
            csv.write_text("id,age\n" + "".join(f"{i},{i % 90}\n" for i in range(100)))
            card = {
                "columns": [
                    {"name": "id", "type": "integer"},
                    {"name": "age", "type": "integer", "lower": 0, "upper": 120},
                ]
            }
            headers = {"Authorization": f"Bearer {node.owner_token}"}
            with (
                connect(node.url, token=node.owner_token) as client,
                httpx.Client(base_url=node.url, headers=headers) as bare,
            ):
                client.datasets.add("people", path=csv, card=card, progress=False)
                req = client.submit_code(SOURCE, datasets=["people"])
                me = paired(lambda: client.me, lambda: bare.get("/v1/me").json(), args.calls)
                path = f"/v1/requests/{req.id}"
                one = paired(req.refresh, lambda: bare.get(path).json(), args.calls)
                rows = [("GET /v1/me", *me), (f"GET {path}", *one)]

                def fresh() -> None:
                    with httpx.Client(base_url=node.url, headers=headers) as c:
                        c.get("/v1/me").json()

                fresh_t, reused_t = paired(
                    fresh, lambda: bare.get("/v1/me").json(), max(50, args.calls // 4)
                )
            env = {**os.environ, "INSITU_URL": node.url, "INSITU_TOKEN": node.owner_token}
            cli_t = process_time(
                [sys.executable, "-m", "insitu.cli.main", "member", "list", "--json"],
                args.cli_runs,
                env,
            )
            floor_t = process_time([sys.executable, "-c", "import httpx"], args.cli_runs, env)
        finally:
            node.stop()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| call | insitu client | bare reused httpx.Client | ratio |")
    print("| --- | --- | --- | --- |")
    for name, ours, anchor in rows:
        print(f"| {name} | {ours * 1e3:.2f} ms | {anchor * 1e3:.2f} ms | {ours / anchor:.2f} |")
    print(
        f"\nfresh httpx.Client per call, GET /v1/me: {fresh_t * 1e3:.2f} ms against "
        f"{reused_t * 1e3:.2f} ms reused ({fresh_t / reused_t:.2f}x)"
    )
    print(
        f"CLI `insitu member list --json`: {cli_t:.2f} s; python + import httpx: "
        f"{floor_t:.2f} s; ratio {cli_t / floor_t:.2f}"
    )


if __name__ == "__main__":
    main()
