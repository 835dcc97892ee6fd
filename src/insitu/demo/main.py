"""``insitu demo``: three real nodes on localhost walk through every flow that exists."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from insitu.demo import (
    dp_queries,
    many_holders,
    peering,
    population_overlap,
    remote_code,
    secure_count,
    trade_asymmetry,
)
from insitu.demo.cluster import DemoNode, init_node
from insitu.demo.story import chapter, console, says

NODES = ("norland-stats", "sudland-stats", "health-institute")


def run(keep_running: bool = False, data_dir: Path | None = None) -> int:
    """Run the demo; returns the exit code. ``keep_running`` leaves the nodes up until Ctrl-C."""
    root = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="insitu-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    nodes: list[DemoNode] = []
    started = time.monotonic()
    try:
        chapter("Three nodes", "Each organisation runs its own node beside its data.")
        for name in NODES:
            node = init_node(root, name)
            node.start()
            nodes.append(node)
            says(name, f"is up at {node.url} (key fingerprint {node.public_key[:12]}…)")
        analyst_token = remote_code.run(nodes[0], root / "data")
        dp_queries.run(nodes[0])
        peering.run(nodes)
        secure_count.run(nodes, root / "data", analyst_token)
        population_overlap.run(nodes, root / "data")
        trade_asymmetry.run(nodes, root / "data")
        many_holders.run(nodes, root / "data")
        chapter("Done", f"every flow ran in {time.monotonic() - started:.1f} s")
        if keep_running:
            for n in nodes:
                console.print(f"{n.name}: {n.url}  owner token: {n.owner_token}")
            console.print("Nodes keep running; press Ctrl-C to stop them.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        for n in nodes:
            n.stop()
        if not keep_running and data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
