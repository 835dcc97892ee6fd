"""``insitu query``: differentially private SQL on a dataset, or its cost and error beforehand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from insitu.cli.app import (
    App,
    emit_json,
    fields_table,
    out,
    remote_command,
    show_value,
    write_frame,
)
from insitu.client import NodeClient
from insitu.errors import InvalidInput

#: ``query`` lives at the top level; ``main`` adds this app's commands there.
top = App()


@remote_command(top, "query")
def query(
    node: NodeClient,
    dataset: Annotated[str, typer.Argument(help="Dataset name.")],
    sql: Annotated[str, typer.Argument(help="Aggregate SQL, e.g. SELECT region, COUNT(*) ...")],
    epsilon: Annotated[
        float | None,
        typer.Option("--epsilon", help="Pure ε-DP (discrete Laplace).", show_default=False),
    ] = None,
    rho: Annotated[
        float | None,
        typer.Option("--rho", help="ρ-zCDP (discrete Gaussian).", show_default=False),
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option("--delta", help="Only for grouping by a string column.", show_default=False),
    ] = None,
    estimate: Annotated[
        bool, typer.Option("--estimate", help="Only show cost and expected error; spend nothing.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for approval and release.")
    ] = 300.0,
    dest: Annotated[
        Path | None,
        typer.Option("--out", help="Save the table to .csv or .parquet.", show_default=False),
    ] = None,
    as_json: bool = False,
) -> None:
    """Answer an aggregate SQL query with differential privacy (charged to your budget)."""
    if (epsilon is None) == (rho is None):
        raise InvalidInput("give exactly one of --epsilon and --rho")
    ds = node.dataset(dataset)
    if estimate:
        report = ds.estimate(sql, epsilon=epsilon, rho=rho, delta=delta)
        if as_json:
            emit_json(report)
        else:
            out.print(fields_table(report, title=f"estimate for {dataset}"))
        return
    table = ds.query(sql, epsilon=epsilon, rho=rho, delta=delta, timeout=timeout)
    if dest is not None:
        write_frame(table, dest)
        out.print(f"saved request {table.attrs.get('request_id')} to {dest}", highlight=False)
        return
    show_value(table, as_json=as_json, title=f"request {table.attrs.get('request_id')}")
