"""``insitu collab``: propose a multi-party job, decide your part, watch it, fetch results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from insitu.cli.app import App, emit_json, out, remote_command, show_rows
from insitu.client import NodeClient
from insitu.errors import InvalidInput
from insitu.federation import blobs

app = App(help="Collaborations: multi-party jobs every party's owner approves.")

IdArg = Annotated[str, typer.Argument(help="Collaboration id.")]


def _load_spec(path: Path) -> dict[str, Any]:
    import yaml

    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read spec {path}: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("a collaboration spec is a JSON/YAML object")
    return value


def _row(data: dict[str, Any]) -> dict[str, Any]:
    parties = ", ".join(
        f"{p['name']}{'✓' if p.get('approved') else '…'}" for p in data.get("parties", [])
    )
    return {
        "id": data.get("collab_id"),
        "computation": data.get("computation"),
        "state": data.get("state"),
        "parties": parties,
        "reason": data.get("reason") or "",
    }


def _show(data: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        show_rows([_row(data)], as_json=False, title="collaboration")


@remote_command(app, "propose")
def propose(
    node: NodeClient,
    spec: Annotated[Path, typer.Argument(help="Spec file (JSON or YAML).")],
    as_json: bool = False,
) -> None:
    """Propose a collaboration; this node sends the spec to every party for approval."""
    _show(node.collaborations.propose(_load_spec(spec)).data, as_json=as_json)


@remote_command(app, "list")
def list_(
    node: NodeClient,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, live, or a state.")
    ] = None,
    as_json: bool = False,
) -> None:
    """Collaborations this node takes part in (owners: pending parts wait for you)."""
    rows = [c.data for c in node.collaborations.list(status=status)]
    if as_json:
        emit_json(rows)
    else:
        show_rows([_row(r) for r in rows], as_json=False, title="collaborations")


@remote_command(app, "show")
def show(node: NodeClient, collab_id: IdArg, as_json: bool = False) -> None:
    """The whole spec and each party's decision."""
    data = node.collaborations.get(collab_id).data
    if as_json:
        emit_json(data)
        return
    _show(data, as_json=False)
    out.print_json(data=data.get("spec", data))


@remote_command(app, "approve")
def approve(node: NodeClient, collab_id: IdArg, as_json: bool = False) -> None:
    """Approve this node's part (owner)."""
    _show(node.collaborations.approve(collab_id).data, as_json=as_json)


@remote_command(app, "deny")
def deny(
    node: NodeClient,
    collab_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why; every party sees it.")],
    as_json: bool = False,
) -> None:
    """Deny this node's part; the collaboration ends for every party."""
    _show(node.collaborations.deny(collab_id, reason=reason).data, as_json=as_json)


@remote_command(app, "cancel")
def cancel(
    node: NodeClient,
    collab_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why.")] = "cancelled",
    as_json: bool = False,
) -> None:
    """Cancel a collaboration that has not finished."""
    _show(node.collaborations.cancel(collab_id, reason=reason).data, as_json=as_json)


@remote_command(app, "wait")
def wait(
    node: NodeClient,
    collab_id: IdArg,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds.")] = 300.0,
    as_json: bool = False,
) -> None:
    """Wait until the collaboration ends."""
    with out.status(f"waiting for {collab_id}…"):
        done = node.collaborations.wait(collab_id, timeout=timeout)
    _show(done.data, as_json=as_json)


@remote_command(app, "result")
def result(
    node: NodeClient,
    collab_id: IdArg,
    blobs_dir: Annotated[
        Path | None,
        typer.Option(
            "--blobs-dir",
            help="Also save each large binary value (e.g. a vector sum) as DIR/<key>.bin.",
        ),
    ] = None,
    as_json: bool = False,
) -> None:
    """The output, on a result party (large binary values shown as hash references)."""
    value = node.collaborations.result(collab_id, blobs=False)
    if blobs_dir is not None:
        fetched = node.collaborations.result(collab_id)
        blobs_dir.mkdir(parents=True, exist_ok=True)
        for key in blobs.refs(value):
            (blobs_dir / f"{key}.bin").write_bytes(fetched[key])
    if as_json:
        emit_json(value)
    else:
        out.print_json(data=value)
