"""Run a DP query: one DuckDB statement, OpenDP noise, post-processing, the released table.

Threat model: the analyst is untrusted and sees only the :class:`Release`
(noisy values, their error bars, the cost and the plan hash); the node that
calls :func:`execute` is trusted with the data. What the analyst learns is
bounded by the stated cost: ε-DP (pure, discrete Laplace) or ρ-zCDP
(discrete Gaussian), plus δ when string keys go through partition
selection; neighbouring datasets differ by one privacy unit with at most
``max_rows`` rows. Group keys come from the card's declared values (each is
output, even when empty), so which groups exist is not revealed. The
caller charges the budget before calling and must not retry a failed run
with fresh noise without charging again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from insitu.computations.dp_query.assemble import (
    Key,
    Presentation,
    build_table,
    margins,
    noisy,
    true_values,
    universe,
)
from insitu.computations.dp_query.cost import check_card, check_privacy, plan_cost
from insitu.computations.dp_query.derive import Cell
from insitu.computations.dp_query.lowering import aggregate_sql, inspect_source
from insitu.computations.dp_query.measures import Share, allocate, grid_for, max_rows
from insitu.computations.dp_query.plan import AggKind, Plan
from insitu.dp.accounting import PrivacyCost
from insitu.dp.mechanisms import selection_threshold
from insitu.errors import ExecutionFailed, QueryError
from insitu.tables.card import Card

__all__ = ["Aggregates", "Presentation", "Release", "execute", "fetch_aggregates", "finish"]


@dataclass(frozen=True)
class Release:
    """A released table with its cost, the plan it answers and how the budget was split."""

    table: pd.DataFrame
    cost: PrivacyCost
    plan_hash: str
    shares: tuple[Share, ...]
    threshold: int | None = None
    notes: tuple[str, ...] = field(default=())

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description for the receipt."""
        return {
            "plan_hash": self.plan_hash,
            "cost": self.cost.to_dict(),
            "split": [s.to_dict() for s in self.shares],
            "selection_threshold": self.threshold,
            "notes": list(self.notes),
        }


_ENGINE: duckdb.DuckDBPyConnection | None = None
_ENGINE_LOCK = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on one shared in-memory DuckDB (opening a database costs tens of ms)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = duckdb.connect(":memory:")
        return _ENGINE.cursor()


@dataclass(frozen=True)
class Aggregates:
    """What the DuckDB statement returned: per-group integers, not yet private.

    Never show these to anyone; :func:`finish` turns them into a release.
    """

    rows: list[tuple[Any, ...]]
    names: list[str]


def fetch_aggregates(plan: Plan, parquet_path: str | Path, card: Card) -> Aggregates:
    """Run the plan's one DuckDB statement over the dataset (bounding, clamping, grid sums)."""
    source = inspect_source(parquet_path, card)
    sql, names = aggregate_sql(plan, card, source)
    try:
        with _cursor() as cur:
            rows = cur.execute(sql).fetchall()
    except duckdb.Error as exc:
        # DuckDB's message may quote a private value (e.g. a failed cast): keep it
        # only as the cause, for the node's log, never in the message.
        raise ExecutionFailed(
            f"the query could not run over dataset {card.name!r} ({type(exc).__name__}); "
            "the node log has the details"
        ) from exc
    return Aggregates(rows, names)


def finish(
    plan: Plan,
    card: Card,
    aggregates: Aggregates,
    *,
    cost: PrivacyCost,
    shares: tuple[Share, ...],
    delta: float | None,
    presentation: Presentation,
) -> Release:
    """Add the noise to the measurements, select partitions, post-process, build the table."""
    pres = presentation
    grids = {c.name: grid_for(c) for c in card.columns if c.type.numeric and c.bounded}
    true = true_values(plan, card, aggregates.rows, aggregates.names, grids)
    keys = universe(plan, card, list(true))
    try:
        cells = noisy(shares, keys, true)
    except Exception as exc:  # OpenDP refuses e.g. scales whose draws would overflow i64
        raise ExecutionFailed(
            f"noise sampling failed ({type(exc).__name__}); nothing was released"
        ) from None
    threshold = None
    if plan.partition_selection:
        assert delta is not None
        count = next(s for s in shares if s.measurement.key == "count")
        threshold = selection_threshold(count.noise, max_contributions=max_rows(card), delta=delta)
        cells = {k: v for k, v in cells.items() if v["count"] >= threshold}
    if pres.nonnegative:
        for vals in cells.values():
            for name in vals:
                if name.startswith("count"):
                    vals[name] = max(vals[name], 0)
    rows_out: list[tuple[Key, Cell]] = [(k, Cell(v)) for k, v in cells.items()]
    if pres.margins and plan.group_by:
        rows_out += margins(cells, len(plan.group_by), pres.total_label)
    table = build_table(plan, card, rows_out, shares, grids, pres)
    return Release(table, cost, plan.hash, shares, threshold, plan.notes)


def execute(
    plan: Plan,
    parquet_path: str | Path,
    card: Card,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    delta: float | None = None,
    weights: dict[str, float] | None = None,
    presentation: Presentation | None = None,
) -> Release:
    """Compute the DP release of ``plan`` over the dataset at ``parquet_path``.

    Parameters
    ----------
    plan:
        From :func:`compile_sql` or :meth:`Query.plan` against this ``card``.
    parquet_path:
        The dataset's Parquet file (prepared by :func:`prepare_dataset` or not).
    epsilon, rho, delta:
        Privacy parameters, as for :func:`plan_cost`; the whole of it is spent.
    weights:
        Optional weights of the measurements in the budget split (default equal).
    presentation:
        Post-processing; costs nothing.

    Raises
    ------
    QueryError, InvalidInput
        Before anything is read: bad parameters, or a plan from another card.
    ExecutionFailed
        DuckDB could not run the statement (nothing is released).
    """
    pres = presentation or Presentation()
    check_card(plan, card)
    check_privacy(plan, epsilon=epsilon, rho=rho, delta=delta)
    if pres.suppress_below is not None and not any(
        a.kind is AggKind.COUNT and a.column is None for a in plan.aggregates
    ):
        raise QueryError("suppression of small counts needs COUNT(*) in the query")
    cost = plan_cost(plan, epsilon=epsilon, rho=rho, delta=delta)
    shares = allocate(plan, card, epsilon=epsilon, rho=rho, weights=weights)
    found = fetch_aggregates(plan, parquet_path, card)
    return finish(plan, card, found, cost=cost, shares=shares, delta=delta, presentation=pres)
