"""Serve a node directory over HTTP(S) with uvicorn."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import uvicorn

from insitu.errors import InvalidInput
from insitu.node.api.app import create_app
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

log = logging.getLogger("insitu.node")


def serve(
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8470,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    database_url: str | None = None,
    log_level: str = "warning",
    insecure_peers: bool | None = None,
    public_url: str | None = None,
) -> None:
    """Run the node until interrupted (SIGINT/SIGTERM stop it cleanly).

    ``insecure_peers`` allows plain-HTTP peers (local demos and tests only);
    ``public_url`` is the address peers use to reach this node (it goes into
    invites); both override the directory's ``node.json`` for this run.
    """
    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("give both --tls-cert and --tls-key, or neither")
    settings = NodeSettings.load(
        data_dir, database_url=database_url, insecure_peers=insecure_peers, public_url=public_url
    )
    if settings.insecure_peers:
        log.warning("insecure peers allowed: node-to-node calls may use plain HTTP")
    node = Node(settings)
    scheme = "https" if tls_cert else "http"
    config = uvicorn.Config(
        create_app(node),
        host=host,
        port=port,
        log_level=log_level,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(*args: object, **kwargs: object) -> None:
        await original(*args, **kwargs)  # type: ignore[arg-type]
        bound = port  # with --port 0 the OS chose one: report that
        for srv in server.servers:
            for sock in srv.sockets:
                bound = sock.getsockname()[1]
        print(
            f"insitu node {settings.name} ready at {scheme}://{host}:{bound}",
            file=sys.stderr,
            flush=True,
        )

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    finally:
        node.store.close()
