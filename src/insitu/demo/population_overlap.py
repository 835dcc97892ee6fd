"""Demo chapter (scenario 1): two offices count the people in both registers, with DP noise."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import insitu
from insitu.client import NodeClient
from insitu.demo.cluster import DemoNode
from insitu.demo.story import chapter, says, sees
from insitu.examples.files import ExampleTable
from insitu.examples.population import population_registers

EPSILON = 0.5


def owner_of(node: DemoNode) -> NodeClient:
    """The owner's client of a demo node."""
    return insitu.connect(node.url, token=node.owner_token)


def approve_everywhere(nodes: list[DemoNode], collab_id: str, what: str) -> None:
    """Each owner finds the collaboration among its pending parts and approves it."""
    for node in nodes:
        with owner_of(node) as owner:
            for _ in range(200):
                if any(c.id == collab_id for c in owner.collaborations.list(status="pending")):
                    break
                time.sleep(0.1)
            owner.collaborations.approve(collab_id)
        says(node.name, f"owner read the whole spec and approved its part ({what})", role="owner")


def outcome(node: DemoNode, collab_id: str, label: str) -> dict[str, Any]:
    """Wait for the collaboration to end at ``node`` and fetch its result there."""
    with owner_of(node) as owner:
        done = owner.collaborations.wait(collab_id, timeout=300)
        if done.state != "done":
            raise RuntimeError(f"{label} {done.state}: {done.reason}")
        return owner.collaborations.result(collab_id)


def learned(result: dict[str, Any], *, suffix: str = "") -> None:
    """Print the result's statement of what each party learned."""
    for party, what in result["learns"].items():
        says(f"{party}{suffix}", f"learned {what}")


def register(
    pairs: list[tuple[DemoNode, ExampleTable]], what: str, *, rho: float | None = None
) -> None:
    """Each owner registers its example table as a dataset of the same name (budget ``rho``)."""
    for node, table in pairs:
        with owner_of(node) as owner:
            owner.datasets.add(table.name, path=table.csv, card=table.card)
            if rho is not None:
                owner.budgets.set(table.name, rho=rho)
        says(node.name, f"owner registered its {what} ({table.name})", role="owner")


def run(nodes: list[DemoNode], workdir: Path) -> None:
    chapter(
        "Population overlap (PSI cardinality with DP)",
        "Two offices count the cross-border workers in both registers; nobody learns who.",
    )
    norland, sudland = nodes[0], nodes[1]
    example = population_registers(workdir / "population", rows_a=4_000, rows_b=3_000, overlap=600)
    register([(norland, example.tables[0]), (sudland, example.tables[1])], "register", rho=1.0)
    with owner_of(norland) as owner:
        proposed = insitu.psi(
            owner,
            mode="cardinality",
            receiver=(norland.name, "register_a"),
            sender=(sudland.name, "register_b"),
            key="person_key",
            dp={"epsilon": EPSILON},
        )
    says(norland.name, f"proposed {proposed.id}: PSI cardinality, ε = {EPSILON} per register")
    approve_everywhere([norland, sudland], proposed.id, f"ε = {EPSILON} on its register")
    result = outcome(norland, proposed.id, "population overlap")
    sees(
        norland.name,
        f"overlap (DP, ε = {EPSILON}, discrete Laplace scale {1 / EPSILON:g}): "
        f"{result['cardinality']:,}\n"
        f"known truth of the example generator:   {example.truth['overlap']:,}\n"
        f"register sizes: {result['receiver_rows']:,} and {result['sender_rows']:,}",
        title="the released count",
    )
    learned(result)
