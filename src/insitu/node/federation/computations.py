"""The multi-party computations a node runs in a collaboration, by name.

A computation gets a :class:`CollabContext` (the spec, this node's party
name, a :class:`~insitu.computations.channel.Channel` to the other parties,
read access to this node's approved datasets, the release hook and the time
left) and returns the output for this node — a JSON object at result
parties, ``None`` elsewhere. It cannot tell an ``HttpChannel`` between nodes
from the in-memory hub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from insitu.computations.channel import Channel
from insitu.computations.secure_count import MODULUS, secure_sum
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec


class DatasetFiles(Protocol):
    """Where this node's datasets live (``Datasets`` satisfies it)."""

    def path(self, name: str) -> Path: ...


@dataclass(frozen=True)
class CollabContext:
    """Everything a computation may use at one party.

    ``on_release`` MUST be called before the first message after which
    another party can learn an output derived from this party's data; it
    stores the release point and charges the budget in one transaction
    before returning. Later calls do nothing. ``timeout`` is the seconds
    left until the collaboration's deadline.
    """

    spec: CollaborationSpec
    me: str
    channel: Channel
    datasets: DatasetFiles
    on_release: Callable[[], None]
    timeout: float


Computation = Callable[[CollabContext], "dict[str, Any] | None"]


def _contribution(ctx: CollabContext) -> int:
    """Row count of this party's datasets, or the sum of an integer ``column`` in them."""
    column = ctx.spec.parameters.get("column")
    total = 0
    for name in ctx.spec.party(ctx.me).datasets:
        path = ctx.datasets.path(name)
        if column is None:
            total += pq.ParquetFile(path).metadata.num_rows
            continue
        if not isinstance(column, str):
            raise InvalidInput("parameter 'column' must be a column name")
        table = pq.read_table(path, columns=[column])
        values = table.column(column)
        if not pa.types.is_integer(values.type):
            raise InvalidInput(f"column {column!r} of {name!r} is not an integer column")
        summed = pc.sum(values).as_py()
        total += int(summed or 0)
    if not 0 <= total < MODULUS // len(ctx.spec.parties):
        raise InvalidInput("this party's contribution is out of range for a secure sum")
    return total


def run_secure_count(ctx: CollabContext) -> dict[str, Any] | None:
    """Secure count (or integer column sum) over every party; exact total to result parties.

    Input parties contribute the row count of their approved datasets (or,
    with ``parameters={"column": NAME}``, the sum of that integer column);
    parties without the input role contribute 0 and act as computing parties.
    What each party learns: see :mod:`insitu.computations.secure_count`.
    """
    value = _contribution(ctx) if ctx.spec.party(ctx.me).datasets else 0
    total = secure_sum(
        ctx.channel,
        value,
        result_parties=ctx.spec.result_parties,
        run_id=ctx.spec.computation,
        timeout=ctx.timeout,
        on_release=ctx.on_release,
    )
    return None if total is None else {"total": total}


COMPUTATIONS: dict[str, Computation] = {
    "secure_count": run_secure_count,
    "secure_sum": run_secure_count,
}


__all__ = ["COMPUTATIONS", "CollabContext", "Computation", "DatasetFiles", "run_secure_count"]

# Recipes in their own modules (imported last: they use CollabContext only for typing).
from insitu.node.federation.psi_computation import run_psi  # noqa: E402
from insitu.node.federation.stats_computation import run_secure_stats  # noqa: E402
from insitu.node.federation.vector_sum_computation import run_secure_vector_sum  # noqa: E402

COMPUTATIONS.update(
    {"psi": run_psi, "secure_stats": run_secure_stats, "secure_vector_sum": run_secure_vector_sum}
)
