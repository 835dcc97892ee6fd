"""Demo chapter (scenario 2): exports recorded by A against imports recorded by B, by PSI-sum."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import insitu
from insitu.demo.cluster import DemoNode
from insitu.demo.population_overlap import (
    approve_everywhere,
    learned,
    outcome,
    owner_of,
    register,
)
from insitu.demo.story import chapter, says, sees
from insitu.examples.trade import trade_records


def _sum(
    receiver: tuple[DemoNode, str], sender: tuple[DemoNode, str], proposer: DemoNode, label: str
) -> dict[str, Any]:
    """Intersection-sum of the sender's trade values over enterprises both files hold."""
    with owner_of(proposer) as owner:
        proposed = insitu.psi(
            owner,
            mode="sum",
            receiver=(receiver[0].name, receiver[1]),
            sender=(sender[0].name, sender[1]),
            key="enterprise_id",
            value="value_eur",
            value_scale=1,  # whole euros
            result_parties=[proposer.name],
        )
    says(proposer.name, f"proposed {proposed.id}: intersection-sum of {label}")
    approve_everywhere([receiver[0], sender[0]], proposed.id, "exact sum, approved knowingly")
    return outcome(proposer, proposed.id, "trade asymmetry")


def run(nodes: list[DemoNode], workdir: Path) -> None:
    chapter(
        "Trade asymmetry (PSI intersection-sum)",
        "A's exports and B's imports for the enterprises both record; no record changes hands.",
    )
    norland, sudland = nodes[0], nodes[1]
    example = trade_records(workdir / "trade", exporters=2_000, importers=1_600, shared=1_000)
    register([(norland, example.tables[0]), (sudland, example.tables[1])], "trade file")
    a, b = (norland, "exports_a"), (sudland, "imports_b")
    exports = _sum(b, a, norland, f"{norland.name}'s exports")
    imports = _sum(a, b, norland, f"{sudland.name}'s imports")
    truth = example.truth
    sees(
        norland.name,
        f"enterprises in both files: {exports['cardinality']:,} (truth {truth['shared']:,})\n"
        f"exports recorded by A over them: {exports['total']:,} EUR "
        f"(truth {truth['exports_sum_shared']:,.0f})\n"
        f"imports recorded by B over them: {imports['total']:,} EUR "
        f"(truth {truth['imports_sum_shared']:,.0f})\n"
        f"asymmetry (imports / exports): {imports['total'] / max(exports['total'], 1):.3f}",
        title="two intersection-sums (whole euros)",
    )
    learned(imports)
