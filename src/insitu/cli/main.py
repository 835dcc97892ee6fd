"""The ``insitu`` command: node setup and serving, audit checks, and the client's operations."""

from __future__ import annotations

from typing import Annotated

import typer

from insitu.cli import (
    audit_cmds,
    collab_cmds,
    collaboration_cmds,
    dataset_cmds,
    member_cmds,
    node_cmds,
    peer_cmds,
    policy_cmds,
    query_cmds,
    request_cmds,
)
from insitu.cli.app import App, err

app = App(help="insitu: compute on data that must not be shared.")
app.add_typer(node_cmds.app, name="node")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(member_cmds.app, name="member")
app.add_typer(dataset_cmds.app, name="dataset")
app.add_typer(request_cmds.app, name="request")
app.add_typer(policy_cmds.policy_app, name="policy")
app.add_typer(policy_cmds.budget_app, name="budget")
app.add_typer(peer_cmds.app, name="peer")
app.add_typer(collaboration_cmds.app, name="collab")
for sub in (request_cmds.top, query_cmds.top, policy_cmds.top, collab_cmds.top):
    app.registered_commands.extend(sub.registered_commands)


@app.command("version")
def version() -> None:
    """Print the insitu version."""
    import insitu

    typer.echo(insitu.__version__)


@app.command("demo")
def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the demo nodes running afterwards.")
    ] = False,
) -> None:
    """Run the guided demo: three local nodes and the reference scenarios."""
    try:
        from insitu.demo.main import run
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("insitu.demo"):
            raise
        err.print(
            "[red]error[/] the demo is not part of this installation (no insitu.demo)",
            highlight=False,
        )
        raise typer.Exit(1) from None
    code = run(keep_running=keep_running)
    if code:
        raise typer.Exit(int(code))


if __name__ == "__main__":
    app()
