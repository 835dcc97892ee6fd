"""Demo chapter: a secure count over three offices, each owner approving its own part."""

from __future__ import annotations

import time
from pathlib import Path

import insitu
from insitu.demo.cluster import DemoNode
from insitu.demo.story import chapter, says, sees
from insitu.examples.register import person_register


def _spec(nodes: list[DemoNode], collab_id: str) -> dict[str, object]:
    result = nodes[0].name
    return {
        "collab_id": collab_id,
        "computation": "secure_count",
        "parties": [
            {
                "name": n.name,
                "url": n.url,
                "public_key": n.public_key,
                "roles": ["input", "result"] if n.name == result else ["input"],
                "datasets": ["persons"],
            }
            for n in nodes
        ],
        "privacy_costs": [{"party": n.name, "dataset": "persons", "exact": True} for n in nodes],
        "result_parties": [result],
        "timeout_seconds": 120,
    }


def run(nodes: list[DemoNode], workdir: Path, analyst_token: str) -> None:
    chapter(
        "A secure count across three offices",
        "Each office adds a random mask; no office sees another's count, only the total leaves.",
    )
    for i, node in enumerate(nodes[1:], start=1):
        owner = insitu.connect(node.url, token=node.owner_token)
        example = person_register(
            workdir / f"register-{node.name}", rows=5_000 * (i + 1), seed=node.name
        )
        owner.datasets.add("persons", path=example.tables[0].csv, card=example.tables[0].card)
        says(
            node.name,
            f"owner registered its own person register ({5_000 * (i + 1):,} rows)",
            role="owner",
        )
    ana = insitu.connect(nodes[0].url, token=analyst_token)
    collab_id = f"persons-total-{time.time_ns() % 10**9}"
    proposed = ana.collaborations.propose(_spec(nodes, collab_id))
    says(
        "ana",
        f"proposed collaboration {proposed.id}: secure_count over persons at all three",
        role="analyst",
    )
    for node in nodes:
        owner = insitu.connect(node.url, token=node.owner_token)
        for _ in range(100):
            pending = [c for c in owner.collaborations.list(status="pending") if c.id == collab_id]
            if pending:
                break
            time.sleep(0.1)
        owner.collaborations.approve(collab_id)
        says(
            node.name,
            "owner read the whole spec and approved its own part (exact total release)",
            role="owner",
        )
    done = ana.collaborations.wait(collab_id, timeout=120)
    says(
        nodes[0].name,
        f"collaboration {done.state}; every party approved: {all(done.parties.values())}",
    )
    sees("ana", ana.collaborations.result(collab_id), title="the only output: the total")
