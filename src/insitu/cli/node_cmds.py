"""``insitu node init`` and ``insitu node start``: make and serve a node's data directory."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel

from insitu.cli.app import App, JsonOpt, emit_json, err, out
from insitu.errors import InvalidInput

app = App(help="Create and run a node.")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

DirArg = Annotated[Path, typer.Argument(help="The node's data directory.")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="PostgreSQL URL (default: SQLite in DIR).", show_default=False
    ),
]


@app.command("init")
def init(
    data_dir: DirArg,
    name: Annotated[str, typer.Option("--name", help="The node's name.")],
    database_url: DbOpt = None,
    owner: Annotated[str, typer.Option("--owner", help="Name of the first owner.")] = "owner",
    as_json: JsonOpt = False,
) -> None:
    """Create a node: key, database, and the first owner, whose token is shown once."""
    from insitu.node.init import init_node

    result = init_node(data_dir, name=name, owner=owner, database_url=database_url)
    if as_json:
        emit_json(
            {
                "data_dir": str(result.data_dir),
                "name": result.name,
                "owner": result.owner,
                "owner_token": result.owner_token,
                "public_key": result.public_key,
                "fingerprint": result.fingerprint,
            }
        )
        return
    out.print(
        Panel.fit(
            f"node [bold]{result.name}[/] in {result.data_dir}\n"
            f"public key   {result.public_key}\n"
            f"fingerprint  {result.fingerprint}\n\n"
            f"owner [bold]{result.owner}[/] token (shown once, store it safely):\n"
            f"[bold yellow]{result.owner_token}[/]",
            title="insitu node initialised",
        ),
        highlight=False,
    )
    out.print(f"start it with: insitu node start {result.data_dir}", highlight=False)


@app.command("start")
def start(
    data_dir: DirArg,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8470,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="PEM certificate chain.", show_default=False)
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", help="PEM private key.", show_default=False)
    ] = None,
    database_url: DbOpt = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
    insecure_peers: Annotated[
        bool,
        typer.Option(
            "--insecure-peers", help="Allow plain-HTTP peers (local tests and demos only)."
        ),
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="URL peers use to reach this node.", show_default=False),
    ] = None,
) -> None:
    """Serve the node over HTTP(S) until SIGINT or SIGTERM; logs one ready line with its URL."""
    from insitu.node.serve import serve

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("TLS needs both --tls-cert and --tls-key")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise InvalidInput(f"{path} is not a file")
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    stopped_by: list[int] = []
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler that was installed before it started: record it here and exit 0 instead.
    previous = {s: signal.signal(s, lambda n, _f: stopped_by.append(n)) for s in STOP_SIGNALS}
    try:
        serve(
            data_dir,
            host=host,
            port=port,
            tls_cert=tls_cert,
            tls_key=tls_key,
            database_url=database_url,
            log_level=log_level,
            insecure_peers=insecure_peers or None,
            public_url=public_url,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    why = f" ({signal.Signals(stopped_by[0]).name})" if stopped_by else ""
    err.print(f"node stopped{why}", highlight=False)
