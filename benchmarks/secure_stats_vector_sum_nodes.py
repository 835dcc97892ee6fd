"""Secure sum of a 10^6-element vector from 3 input parties as real node processes, vs MPyC 0.11.

insitu: three node processes (``insitu node start``, SQLite, plain HTTP on
loopback between them, every message signed and recorded), each holding a
dataset whose ``value`` column (10^6 rows, |x| <= 100) is its vector. Each
node is an input and a computing party; ``office-0`` is also the result
party. The ``secure_vector_sum`` collaboration is proposed with
``insitu.secure_vector_sum`` and every owner approves its part through the
API. Timed, per run: last approval -> ``done`` at the result node (the node's
own timestamp of that change, so the client's polling does not count), and
that plus fetching the 10^6-element result over HTTP and decoding it at the
analyst's client; also from the proposal, with the three approvals.

MPyC: ``secure_stats_mpyc_sum.py -M3`` (3 local parties over TCP, SecFxp
arrays), in the same run, as in ``secure_stats_vector_sum.py``.

Usage::

    .venv/bin/python benchmarks/secure_stats_vector_sum_nodes.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from secure_stats_vector_sum import BOUND, report_mpyc, vector

import insitu
from insitu.client import NodeClient
from insitu.demo.cluster import DemoNode, init_node

NAMES = ("office-0", "office-1", "office-2")


def card(n: int) -> dict[str, object]:
    return {
        "name": "grid",
        "privacy_unit": {"column": "cell", "max_rows": 1},
        "columns": [
            {"name": "cell", "type": "integer", "lower": 0, "upper": n},
            {"name": "value", "type": "float", "lower": -BOUND, "upper": BOUND},
        ],
    }


def owner(node: DemoNode) -> NodeClient:
    return insitu.connect(node.url, token=node.owner_token, timeout=120)


def set_up(root: Path, n: int) -> list[DemoNode]:
    nodes = [init_node(root, name) for name in NAMES]
    for node in nodes:
        node.start()
    for i, node in enumerate(nodes):
        with owner(node) as o:
            for other in nodes:
                if other is not node:
                    o.peers.add(other.name, url=other.url, public_key=other.public_key)
            path = root / f"{node.name}.parquet"
            pd.DataFrame({"cell": np.arange(n), "value": vector(i, n)}).to_parquet(path)
            o.datasets.add("grid", path=path, card=card(n))
    return nodes


def approve(node: DemoNode, collab_id: str) -> None:
    with owner(node) as o:
        while not any(c.id == collab_id for c in o.collaborations.list(status="pending")):
            time.sleep(0.02)
        o.collaborations.approve(collab_id)


def one_run(
    nodes: list[DemoNode], n: int, expected: np.ndarray, computing: int = 3
) -> dict[str, float]:
    t_propose = time.time()
    with owner(nodes[0]) as first:
        job = insitu.secure_vector_sum(
            first,
            inputs=[(name, "grid") for name in NAMES],
            column="value",
            length=n,
            bound=BOUND,
            computing=list(NAMES[:computing]),
            share_timeout=120,
        )
    for node in nodes[:-1]:
        approve(node, job.id)
    with owner(nodes[-1]) as last:
        while not any(c.id == job.id for c in last.collaborations.list(status="pending")):
            time.sleep(0.02)
        t_last = time.time()
        last.collaborations.approve(job.id)
    with owner(nodes[0]) as first:
        # poll gently (a tight loop would take CPU from the nodes); the node's own
        # timestamp of the change to ``done`` says when the job ended
        while not (view := first.collaborations.get(job.id)).finished:
            time.sleep(0.1)
        if view.state != "done":
            raise RuntimeError(f"{job.id} {view.state}: {view.reason}")
        done_at = datetime.fromisoformat(view.data["updated_at"]).timestamp()
        t_fetch = time.perf_counter()
        total = insitu.decode_vector(first.collaborations.result(job.id))
        fetch = time.perf_counter() - t_fetch
    err = float(np.max(np.abs(total - expected)))
    return {
        "done": done_at - t_last,
        "result": done_at - t_last + fetch,
        "with_approvals": done_at - t_propose + fetch,
        "max_error": err,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--computing", type=int, default=3, choices=(2, 3))
    ap.add_argument("--no-mpyc", action="store_true")
    args = ap.parse_args()
    n = args.n
    expected = sum(vector(i, n) for i in range(3))
    root = Path(tempfile.mkdtemp(prefix="vsum-nodes-"))
    nodes = set_up(root, n)
    try:
        runs = [one_run(nodes, n, expected, args.computing) for _ in range(args.repeat)]
    finally:
        for node in nodes:
            node.stop()
    print(
        f"secure sum of a {n:,}-element vector, 3 node processes (inputs), "
        f"{args.computing} of them also computing parties"
    )
    print(f"load average before MPyC: {os.getloadavg()[0]:.2f}")
    for key, label in (
        ("done", "last approval -> done at the result node"),
        ("result", "last approval -> sum decoded at the client"),
        ("with_approvals", "propose + 3 approvals -> sum decoded"),
    ):
        values = [r[key] for r in runs]
        print(f"insitu nodes, {label}: median {statistics.median(values):.3f} s  {values}")
    print(f"max error {max(r['max_error'] for r in runs):.2e} (bound {3 * 2.0**-17:.2e})")
    if args.no_mpyc:
        return
    mpyc_s = report_mpyc(n)
    ours = statistics.median(r["result"] for r in runs)
    print(f"ratio MPyC in protocol / insitu nodes (approval -> decoded sum): {mpyc_s / ours:.1f}x")


if __name__ == "__main__":
    main()
