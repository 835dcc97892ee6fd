"""``insitu peer``: invites and the owner's register of peer nodes (on the local directory)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from insitu.cli.app import App, JsonOpt, emit_json, out, show_done, show_rows

if TYPE_CHECKING:
    from insitu.node.federation.records import Peer
    from insitu.node.node import Node

app = App(help="Register the nodes this node works with (owner, on the node's directory).")

DirArg = Annotated[Path, typer.Argument(help="The node's data directory.")]
NameArg = Annotated[str, typer.Argument(help="The peer's name.")]


@contextmanager
def _node(data_dir: Path) -> Iterator[Node]:
    from insitu.node.node import Node
    from insitu.node.settings import NodeSettings

    node = Node(NodeSettings.load(data_dir))
    try:
        yield node
    finally:
        node.store.close()


def _view(peer: Peer) -> dict[str, Any]:
    return {
        "name": peer.name,
        "url": peer.url,
        "fingerprint": peer.fingerprint,
        "status": peer.status.value,
    }


@app.command("invite")
def invite(
    data_dir: DirArg,
    url: Annotated[
        str | None, typer.Option("--url", help="URL peers use (default: public_url).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Print this node's one-line invite and its key fingerprint to read out to the partner."""
    from insitu.node.federation.invites import make_invite, parse_invite

    with _node(data_dir) as node:
        text = make_invite(node, url=url)
    fingerprint = parse_invite(text).fingerprint
    if as_json:
        emit_json({"invite": text, "fingerprint": fingerprint})
        return
    out.print(text, highlight=False, soft_wrap=True)
    out.print(f"fingerprint {fingerprint}: compare it with your partner by phone", highlight=False)


@app.command("add")
def add(
    data_dir: DirArg,
    invite_text: Annotated[str, typer.Argument(metavar="INVITE", help="The partner's invite.")],
    name: Annotated[str | None, typer.Option("--name", help="Local name for the peer.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Accept a partner's invite: register its URL and public key as a peer."""
    from insitu.node.federation.invites import add_peer_from_invite

    with _node(data_dir) as node:
        peer = add_peer_from_invite(node, invite_text, name=name)
    view = _view(peer)
    show_done(f"added peer {peer.name} (fingerprint {peer.fingerprint})", view, as_json=as_json)


@app.command("list")
def list_(data_dir: DirArg, as_json: JsonOpt = False) -> None:
    """List registered peers."""
    with _node(data_dir) as node:
        rows = [_view(p) for p in node.federation.peers.all()]
    show_rows(rows, as_json=as_json, title="peers")


def _change(data_dir: Path, name: str, action: str, as_json: bool) -> None:
    with _node(data_dir) as node:
        getattr(node.federation.peers, action)(name, by="owner")
    show_done(f"{action}d peer {name}", {action: name}, as_json=as_json)


@app.command("suspend")
def suspend(data_dir: DirArg, name: NameArg, as_json: JsonOpt = False) -> None:
    """Refuse all traffic with a peer until it is resumed."""
    _change(data_dir, name, "suspend", as_json)


@app.command("resume")
def resume(data_dir: DirArg, name: NameArg, as_json: JsonOpt = False) -> None:
    """Accept a suspended peer's traffic again."""
    _change(data_dir, name, "resume", as_json)


@app.command("remove")
def remove(data_dir: DirArg, name: NameArg, as_json: JsonOpt = False) -> None:
    """Forget a peer."""
    _change(data_dir, name, "remove", as_json)
