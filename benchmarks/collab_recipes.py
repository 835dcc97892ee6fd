"""PSI and secure statistics as collaborations between two node processes, against in-process runs.

The in-process anchor runs the same recipe (``run_receiver``/``run_sender``,
``simulate``) on the same tables with every party in one process over an
``InMemoryHub``; the collaboration adds the node processes, signed HTTP
between them, the audit of every message and the database-backed inbox.
Timings go from the last approval to ``done`` at the result party (approval
bookkeeping excluded), best of ``--repeat``.

    .venv/bin/python benchmarks/collab_recipes.py --rows 20000 --repeat 2
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import insitu
from insitu.client import NodeClient
from insitu.computations.channel import InMemoryHub
from insitu.computations.psi import PsiSpec, run_receiver, run_sender
from insitu.computations.secure_stats import Count, Mean, Ols, SecureStatsSpec, simulate
from insitu.crypto.normalise import KeyNormaliser
from insitu.demo.cluster import DemoNode, init_node
from insitu.protocols.psi import Mode

CARD: dict[str, Any] = {
    "name": "survey",
    "privacy_unit": {"column": "pid", "max_rows": 1},
    "columns": [
        {"name": "pid", "type": "string"},
        {"name": "age", "type": "integer", "lower": 18, "upper": 90},
        {"name": "income", "type": "float", "lower": 0, "upper": 200000},
    ],
}
STATS = [Count(), Mean(column="income"), Ols(y="income", x=["age"])]


def tables(rows: int) -> dict[str, pd.DataFrame]:
    """Two survey tables whose ``pid`` keys overlap by a quarter."""
    rng = np.random.default_rng(1)
    out = {}
    for i, name in enumerate(("a", "b")):
        start = i * (3 * rows // 4)
        age = rng.integers(18, 91, rows)
        out[name] = pd.DataFrame(
            {
                "pid": [f"p{start + j}" for j in range(rows)],
                "age": age,
                "income": np.clip(8000 + 600 * age + rng.normal(0, 5000, rows), 0, 2e5).round(2),
            }
        )
    return out


def owner(node: DemoNode) -> NodeClient:
    return insitu.connect(node.url, token=node.owner_token)


def timed_collab(nodes: list[DemoNode], propose: Any) -> float:
    """Propose with the first node's owner, approve everywhere, time last approval → done."""
    with owner(nodes[0]) as first:
        job = propose(first)
    for node in nodes[:-1]:
        with owner(node) as o:
            while not any(c.id == job.id for c in o.collaborations.list(status="pending")):
                time.sleep(0.05)
            o.collaborations.approve(job.id)
    with owner(nodes[-1]) as last:
        while not any(c.id == job.id for c in last.collaborations.list(status="pending")):
            time.sleep(0.05)
        start = time.perf_counter()
        last.collaborations.approve(job.id)
    with owner(nodes[0]) as first:
        while True:
            view = first.collaborations.get(job.id)
            if view.finished:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        if view.state != "done":
            raise RuntimeError(f"{job.id} {view.state}: {view.reason}")
    return elapsed


def in_process_psi(files: dict[str, Path]) -> float:
    spec = PsiSpec(Mode.CARDINALITY, receiver="a", sender="b", key=KeyNormaliser(("pid",)))
    hub = InMemoryHub(["a", "b"])
    start = time.perf_counter()
    t = threading.Thread(target=run_sender, args=(hub.channel("b"), spec, str(files["b"])))
    t.start()
    run_receiver(hub.channel("a"), spec, str(files["a"]))
    t.join()
    return time.perf_counter() - start


def in_process_stats(frames: dict[str, pd.DataFrame], rows: int) -> float:
    spec = SecureStatsSpec.parse(
        {
            "job_id": "bench",
            "card": CARD,
            "input_parties": ["a", "b"],
            "computing_parties": ["ca", "cb"],
            "result_party": "r",
            "statistics": [s.model_dump(mode="json") for s in STATS],
            "max_rows": 4 * rows,
        }
    )
    start = time.perf_counter()
    simulate(spec, frames)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="collab-bench-"))
    frames = tables(args.rows)
    files = {}
    for name, frame in frames.items():
        files[name] = root / f"{name}.parquet"
        frame.to_parquet(files[name])
    nodes = [init_node(root, f"office-{n}") for n in ("a", "b")]
    try:
        for node in nodes:
            node.start()
        for node, other in ((nodes[0], nodes[1]), (nodes[1], nodes[0])):
            with owner(node) as o:
                o.peers.add(other.name, url=other.url, public_key=other.public_key)
        for node, name in zip(nodes, ("a", "b"), strict=True):
            csv = root / f"{name}.csv"
            frames[name].to_csv(csv, index=False)
            with owner(node) as o:
                o.datasets.add("survey", path=csv, card=CARD)
        a, b = nodes[0].name, nodes[1].name

        def psi(first: NodeClient) -> Any:
            return insitu.psi(
                first, mode="cardinality", receiver=(a, "survey"), sender=(b, "survey"), key="pid"
            )

        def stats(first: NodeClient) -> Any:
            return insitu.secure_stats(
                first,
                inputs=[(a, "survey"), (b, "survey")],
                computing=[a, b],
                statistics=STATS,
                card=CARD,
                max_rows=4 * args.rows,
            )

        def local_psi() -> float:
            return in_process_psi(files)

        def local_stats() -> float:
            return in_process_stats(frames, args.rows)

        jobs: list[tuple[str, Callable[[NodeClient], Any], Callable[[], float]]] = [
            ("psi cardinality", psi, local_psi),
            ("secure stats (count, mean, OLS)", stats, local_stats),
        ]
        rows = []
        for label, collab, local in jobs:
            local_s = min(local() for _ in range(args.repeat))
            nodes_s = min(timed_collab(nodes, collab) for _ in range(args.repeat))
            rows.append((label, local_s, nodes_s))
        print(f"rows per party: {args.rows:,}; best of {args.repeat}")
        print(f"{'job':34} {'in-process s':>12} {'2 nodes s':>10} {'ratio':>7}")
        for label, local_s, nodes_s in rows:
            print(f"{label:34} {local_s:12.2f} {nodes_s:10.2f} {nodes_s / local_s:7.2f}")
    finally:
        for node in nodes:
            node.stop()


if __name__ == "__main__":
    main()
