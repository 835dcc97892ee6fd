"""``insitu request`` and ``insitu submit-code``: submit, review, decide and collect requests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.syntax import Syntax

from insitu.cli.app import (
    App,
    emit_json,
    err,
    fields_table,
    out,
    remote_command,
    rows_table,
    show_done,
    show_value,
    write_frame,
)
from insitu.client import NodeClient, Request
from insitu.client.records import decode_result

app = App(help="Review, decide and collect requests.")
#: ``submit-code`` lives at the top level; ``main`` adds this app's commands there.
top = App()

IdArg = Annotated[int, typer.Argument(help="Request id.")]


def show_request(req: Request, *, as_json: bool) -> None:
    if as_json:
        emit_json(req.to_dict())
    else:
        reason = f" ({req.reason})" if req.reason else ""
        out.print(f"request {req.id}: [bold]{req.status}[/]{reason}", highlight=False)


@remote_command(app, "list")
def list_(
    node: NodeClient,
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only these statuses (comma-separated).", show_default=False),
    ] = None,
    as_json: bool = False,
) -> None:
    """List requests (owners: all; analysts: their own).

    Owners asking for pending requests also see the collaboration parts that
    wait for their decision (``insitu collab approve|deny``); with ``--json``
    they follow the requests as entries of kind ``collaboration``.
    """
    reqs = node.requests.list(status=status)
    parts = []
    if status == "pending" and node.me.role == "owner":
        parts = [c.data for c in node.collaborations.list(status="pending")]
    if as_json:
        emit_json([r.to_dict() for r in reqs] + [_part_entry(p) for p in parts])
        return
    out.print(rows_table([r.summary() for r in reqs], title="requests"))
    if parts:
        rows = [
            {
                "collaboration": p.get("collab_id"),
                "computation": p.get("computation"),
                "parties": ", ".join(q["name"] for q in p.get("parties", [])),
            }
            for p in parts
        ]
        out.print(rows_table(rows, title="collaboration parts waiting for you"))


def _part_entry(part: dict[str, Any]) -> dict[str, Any]:
    """A pending collaboration part as an entry of ``request list --json``."""
    return {
        "kind": "collaboration",
        "id": part.get("collab_id"),
        "status": "pending",
        "computation": part.get("computation"),
        "parties": [q["name"] for q in part.get("parties", [])],
        "spec_hash": part.get("spec_hash"),
    }


@remote_command(app, "show")
def show(node: NodeClient, request_id: IdArg, as_json: bool = False) -> None:
    """Show a request; for code, the exact source that would run."""
    req = node.request(request_id)
    if as_json:
        emit_json(req.to_dict())
        return
    fields = {k: v for k, v in req.to_dict().items() if k != "payload" and v not in (None, "")}
    out.print(fields_table(fields, title=f"request {req.id}"))
    if req.source is not None:
        out.print(Syntax(req.source, "python", line_numbers=True, word_wrap=True))
    else:
        out.print_json(data=req.payload)


def _decide(node: NodeClient, request_id: int, action: str, **kw: Any) -> Request:
    req = node.request(request_id)
    getattr(req, action)(**kw)
    return req


@remote_command(app, "approve")
def approve(node: NodeClient, request_id: IdArg, as_json: bool = False) -> None:
    """Approve a pending request (owner)."""
    show_request(_decide(node, request_id, "approve"), as_json=as_json)


@remote_command(app, "deny")
def deny(
    node: NodeClient,
    request_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="Why; the analyst sees it.")],
    as_json: bool = False,
) -> None:
    """Deny a pending request with a reason (owner)."""
    show_request(_decide(node, request_id, "deny", reason=reason), as_json=as_json)


@remote_command(app, "release")
def release(node: NodeClient, request_id: IdArg, as_json: bool = False) -> None:
    """Release a checked result to the analyst (owner)."""
    show_request(_decide(node, request_id, "release"), as_json=as_json)


@remote_command(app, "wait")
def wait(
    node: NodeClient,
    request_id: IdArg,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait at most.")] = 600.0,
    until_released: Annotated[
        bool, typer.Option("--until-released", help="Also wait for the owner's release.")
    ] = False,
    as_json: bool = False,
) -> None:
    """Wait until the node has run the request (non-zero exit if it failed or was denied)."""
    req = node.request(request_id)
    if as_json or not err.is_terminal:
        req.wait(timeout, until_released=until_released)
    else:
        with err.status(f"waiting for request {request_id} ({req.status})"):
            req.wait(timeout, until_released=until_released)
    show_request(req, as_json=as_json)


@remote_command(app, "preview")
def preview(node: NodeClient, request_id: IdArg, as_json: bool = False) -> None:
    """Run the request on mock data and show the output (owner; nothing is released)."""
    value = node.request(request_id).preview()
    show_value(value, as_json=as_json, title=f"preview of request {request_id} on mock data")


@remote_command(app, "result")
def result(
    node: NodeClient,
    request_id: IdArg,
    dest: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Save to a file (.csv/.parquet for tables, else the raw bytes).",
            show_default=False,
        ),
    ] = None,
    as_json: bool = False,
) -> None:
    """Fetch a released result."""
    data, media_type = node.request(request_id).result_bytes()
    value = decode_result(data, media_type)
    if dest is None:
        show_value(value, as_json=as_json, title=f"result of request {request_id}")
        return
    if hasattr(value, "to_parquet") and dest.suffix.lower() in (".csv", ".parquet"):
        write_frame(value, dest)
    else:
        dest.write_bytes(data)
    show_done(
        f"saved the result of request {request_id} to {dest}",
        {"path": str(dest), "media_type": media_type, "bytes": len(data)},
        as_json=as_json,
    )


@remote_command(app, "receipt")
def receipt(node: NodeClient, request_id: IdArg, as_json: bool = False) -> None:
    """Show the signed receipt of a released result."""
    data = node.request(request_id).receipt
    if as_json:
        emit_json(data)
    else:
        out.print_json(data=data)


@remote_command(top, "submit-code")
def submit_code(
    node: NodeClient,
    file: Annotated[
        Path, typer.Argument(help="A .py file holding one function.", exists=True, dir_okay=False)
    ],
    dataset: Annotated[
        list[str], typer.Option("--dataset", help="A dataset it reads (repeat for more).")
    ],
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
    as_json: bool = False,
) -> None:
    """Submit the function in FILE to run on the named datasets."""
    source = file.read_text(encoding="utf-8")
    req = node.submit_code(source, datasets=dataset, description=description)
    if as_json:
        emit_json(req.to_dict())
    else:
        out.print(f"submitted request [bold]{req.id}[/]: {req.status}", highlight=False)
