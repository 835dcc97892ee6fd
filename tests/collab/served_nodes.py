"""Nodes served in-process over real HTTP (uvicorn on loopback), and signed-call helpers."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from insitu.crypto.signing import SigningKey
from insitu.federation.signing import sign_request
from insitu.node.api.app import create_app
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings


@dataclass
class Served:
    """A node and the uvicorn server serving its real app on a loopback port."""

    node: Node
    url: str
    owner_token: str
    server: uvicorn.Server
    thread: threading.Thread

    def http(
        self, token: str | None = None, *, verify: ssl.SSLContext | bool = True
    ) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.owner_token}"},
            timeout=30,
            verify=verify,
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.node.close()


def serve_node(
    root: Path,
    name: str,
    *,
    database_url: str | None = None,
    tls: tuple[Path, Path] | None = None,
    **settings: Any,
) -> Served:
    result = init_node(root / name, name=name, database_url=database_url)
    loaded = NodeSettings.load(root / name)
    for key, value in {"insecure_peers": True, **settings}.items():
        setattr(loaded, key, value)
    loaded.save()
    node = Node(NodeSettings.load(root / name))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(node),
        log_level="warning",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    scheme = "https" if tls else "http"
    host = "localhost" if tls else "127.0.0.1"
    return Served(node, f"{scheme}://{host}:{port}", result.owner_token, server, thread)


def signed_post(
    url: str,
    path: str,
    body: bytes | dict[str, Any],
    key: SigningKey,
    *,
    now: float | None = None,
    nonce: str | None = None,
    tamper: Callable[[dict[str, str]], None] | None = None,
) -> tuple[httpx.Response, dict[str, str], bytes]:
    """POST ``body`` signed by ``key``; returns the response, headers and raw body sent."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = sign_request(
        key,
        method="POST",
        path=path,
        body=raw,
        now=time.time() if now is None else now,
        nonce=nonce,
        key_id=key.public_key.fingerprint(),
    )
    if tamper is not None:
        tamper(headers)
    response = httpx.post(url + path, content=raw, headers=headers, timeout=30)
    return response, headers, raw
