"""``insitu audit``: check and export a node's audit log from its data directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from insitu.cli.app import App, JsonOpt, emit_json, err, out, rows_table

if TYPE_CHECKING:
    from insitu.node.audit import VerifyReport
    from insitu.node.node import Node

app = App(help="Check and export the audit log (works on the node's data directory).")

DirArg = Annotated[Path, typer.Argument(help="The node's data directory.")]


@contextmanager
def local_node(data_dir: Path) -> Iterator[Node]:
    """Open a node directory without migrating or serving it."""
    from insitu.node.node import Node
    from insitu.node.settings import NodeSettings

    node = Node(NodeSettings.load(data_dir), migrate=False)
    try:
        yield node
    finally:
        node.close()


def report_dict(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "checked": report.checked,
        "newest_seq": report.newest_seq,
        "checkpoint_seq": report.checkpoint_seq,
        "problems": [
            {"seq": p.seq, "kind": p.kind.value, "detail": p.detail} for p in report.problems
        ],
    }


def show_report(report: VerifyReport, *, as_json: bool, what: str) -> None:
    """Print a verification report; exit 1 when it found problems."""
    data = report_dict(report)
    if as_json:
        emit_json(data)
    elif report.ok:
        out.print(f"[green]ok[/] {what}: {report.checked} entries intact", highlight=False)
    else:
        out.print(rows_table(data["problems"], title=f"{what}: problems found"))
        err.print(f"[red]{len(report.problems)} problem(s) in {what}[/]", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify(data_dir: DirArg, as_json: JsonOpt = False) -> None:
    """Check the chain, signatures and checkpoint; exit 0 if intact, 1 with the problems."""
    with local_node(data_dir) as node:
        report = node.audit.verify()
    show_report(report, as_json=as_json, what=f"audit log of {data_dir}")


@app.command("export")
def export(
    data_dir: DirArg,
    dest: Annotated[Path, typer.Argument(help="JSON Lines file to write.")],
    as_json: JsonOpt = False,
) -> None:
    """Write the log with the node's public key and checkpoint, for outside checking."""
    with local_node(data_dir) as node:
        count = node.audit.export(dest)
        fingerprint = node.key.public_key.fingerprint()
    if as_json:
        emit_json({"path": str(dest), "entries": count, "fingerprint": fingerprint})
    else:
        out.print(
            f"exported {count} entries to {dest} (key fingerprint {fingerprint})", highlight=False
        )


@app.command("verify-export")
def verify_export_cmd(
    file: Annotated[Path, typer.Argument(help="An export made by `insitu audit export`.")],
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="The node's key as you know it (else the file's own).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an export with nothing but a public key; exit 0 if intact, 1 otherwise."""
    from insitu.crypto.signing import VerifyKey
    from insitu.errors import InvalidInput
    from insitu.node.audit import verify_export

    key = None
    if public_key is not None:
        try:
            key = VerifyKey.from_text(public_key)
        except ValueError:
            raise InvalidInput("--public-key is not an Ed25519 public key") from None
    report = verify_export(file, public_key=key)
    if public_key is None and not as_json:
        err.print(
            "[yellow]checked with the key named in the file; pass --public-key to check "
            "it is the node's[/]",
            highlight=False,
        )
    show_report(report, as_json=as_json, what=str(file))
