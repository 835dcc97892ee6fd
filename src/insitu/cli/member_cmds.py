"""``insitu member``: add members, list them, issue and revoke their tokens (owner)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel

from insitu.cli.app import (
    App,
    emit_json,
    out,
    remote_command,
    show_done,
    show_rows,
)
from insitu.client import IssuedToken, NodeClient

app = App(help="Manage the node's members and their tokens (owner).")

NameArg = Annotated[str, typer.Argument(help="Member name.")]
ExpiresOpt = Annotated[
    float | None,
    typer.Option(
        "--expires-in-days", help="Token lifetime in days (default: no expiry).", show_default=False
    ),
]


def show_issued(issued: IssuedToken, *, as_json: bool) -> None:
    """Show a new token once (the only place a token is ever printed)."""
    if as_json:
        emit_json(
            {
                "member": issued.member.to_dict(),
                "token": issued.token,
                "token_info": issued.info.to_dict(),
            }
        )
        return
    out.print(
        Panel.fit(
            f"member [bold]{issued.member.name}[/] ({issued.member.role}), token id "
            f"{issued.info.id}, expires {issued.info.expires_at or 'never'}\n"
            f"token (shown once, hand it over safely):\n[bold yellow]{issued.token}[/]",
            title="new token",
        ),
        highlight=False,
    )


@remote_command(app, "add")
def add(
    node: NodeClient,
    name: NameArg,
    role: Annotated[str, typer.Option("--role", help="owner, analyst or auditor.")] = "analyst",
    expires_in_days: ExpiresOpt = None,
    as_json: bool = False,
) -> None:
    """Add a member; prints their first token once."""
    issued = node.members.add(name, role=role, expires_in_days=expires_in_days)
    show_issued(issued, as_json=as_json)


@remote_command(app, "list")
def list_(node: NodeClient, as_json: bool = False) -> None:
    """List members and their roles."""
    members = [m.to_dict() for m in node.members.list()]
    show_rows(members, as_json=as_json, title="members")


@remote_command(app, "tokens")
def tokens(node: NodeClient, name: NameArg, as_json: bool = False) -> None:
    """List a member's tokens (ids, expiry, revocation; never the tokens)."""
    rows = [t.to_dict() for t in node.members.tokens(name)]
    show_rows(rows, as_json=as_json, title=f"tokens of {name}")


@remote_command(app, "token")
def issue(
    node: NodeClient,
    name: NameArg,
    expires_in_days: ExpiresOpt = None,
    label: Annotated[str, typer.Option("--label", help="A note on what the token is for.")] = "",
    as_json: bool = False,
) -> None:
    """Issue another token for a member; prints it once."""
    issued = node.members.issue_token(name, expires_in_days=expires_in_days, label=label)
    show_issued(issued, as_json=as_json)


@remote_command(app, "revoke")
def revoke(
    node: NodeClient,
    name: NameArg,
    token_id: Annotated[
        int | None,
        typer.Option(
            "--token-id", help="Revoke only this token (default: all).", show_default=False
        ),
    ] = None,
    as_json: bool = False,
) -> None:
    """Revoke a member's tokens (all, or one by id)."""
    count = node.members.revoke(name, token_id=token_id)
    show_done(
        f"revoked {count} token(s) of {name}", {"member": name, "revoked": count}, as_json=as_json
    )
