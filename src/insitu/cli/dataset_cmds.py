"""``insitu dataset``: register files with their cards, list datasets, show cards and mocks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from insitu.cli.app import (
    App,
    emit_json,
    fields_table,
    frame_table,
    out,
    remote_command,
    show_done,
    show_rows,
    to_jsonable,
    write_frame,
)
from insitu.client import NodeClient

app = App(help="Register and inspect datasets.")

NameArg = Annotated[str, typer.Argument(help="Dataset name.")]


@remote_command(app, "add")
def add(
    node: NodeClient,
    name: NameArg,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file.", exists=True, dir_okay=False)],
    card: Annotated[Path, typer.Option("--card", help="Card file (YAML or JSON).", exists=True)],
    as_json: bool = False,
) -> None:
    """Upload FILE and register it as NAME, checked against its card (owner)."""
    ds = node.datasets.add(name, path=file, card=card, progress=not as_json)
    if as_json:
        emit_json({**to_jsonable(ds.to_dict()), "content_hash": ds.content_hash})
    else:
        out.print(
            f"registered [bold]{ds.name}[/]: {ds.rows} rows, sha256 {ds.content_hash}",
            highlight=False,
        )


@remote_command(app, "list")
def list_(node: NodeClient, as_json: bool = False) -> None:
    """List datasets."""
    rows = [d.to_dict() for d in node.datasets.list()]
    show_rows(rows, as_json=as_json, title="datasets")


@remote_command(app, "show")
def show(node: NodeClient, name: NameArg, as_json: bool = False) -> None:
    """Show a dataset's card as a table."""
    ds = node.dataset(name)
    if as_json:
        emit_json({**to_jsonable(ds.to_dict()), "card": ds.card.to_dict()})
        return
    facts = {k: v for k, v in ds.to_dict().items() if v is not None}
    out.print(fields_table(facts, title=f"dataset {ds.name}"))
    out.print(frame_table(ds.columns_frame(), max_rows=10_000, title="columns"))


@remote_command(app, "mock")
def mock(
    node: NodeClient,
    name: NameArg,
    rows: Annotated[int, typer.Option("--rows", help="How many mock rows.")] = 20,
    dest: Annotated[
        Path | None,
        typer.Option("--out", help="Save to a .csv or .parquet file.", show_default=False),
    ] = None,
    as_json: bool = False,
) -> None:
    """Fetch a mock table made from the card alone (no private rows)."""
    frame = node.dataset(name).mock_rows(rows)
    if dest is not None:
        write_frame(frame, dest)
        if as_json:
            emit_json({"path": str(dest), "rows": len(frame)})
        else:
            out.print(f"wrote {len(frame)} mock rows to {dest}", highlight=False)
    elif as_json:
        emit_json(to_jsonable(frame))
    else:
        out.print(frame_table(frame, title=f"mock of {name}"))


@remote_command(app, "delete")
def delete(
    node: NodeClient,
    name: NameArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: bool = False,
) -> None:
    """Delete a dataset and its stored file (owner)."""
    if not yes and not typer.confirm(f"Delete dataset {name} and its data?"):
        raise typer.Exit(1)
    node.datasets.delete(name)
    show_done(f"deleted dataset {name}", {"deleted": name}, as_json=as_json)
