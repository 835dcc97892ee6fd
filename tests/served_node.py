"""A real node served by uvicorn on a free loopback port, in a background thread of the test.

Used by the client and CLI tests; the server is the production app
(``create_app(Node(settings))``), nothing is mocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from insitu.client import NodeClient, connect
from insitu.node.api.app import create_app
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

CARD: dict[str, Any] = {
    "name": "people",
    "description": "Synthetic people for tests",
    "columns": [
        {"name": "person_id", "type": "integer"},
        {"name": "age", "type": "integer", "lower": 0, "upper": 120},
        {"name": "region", "type": "category", "categories": ["north", "south"]},
        {"name": "income", "type": "float", "lower": 0, "upper": 1000000},
    ],
    "privacy_unit": {"column": "person_id", "max_rows": 1},
}


def people_csv(path: Path, rows: int = 50) -> Path:
    """A CSV that satisfies :data:`CARD`: ages 20..69, alternating regions."""
    lines = ["person_id,age,region,income"]
    for i in range(rows):
        region = "north" if i % 2 == 0 else "south"
        lines.append(f"{i + 1},{20 + i % 50},{region},{1000.0 * (i % 7)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ServedNode:
    """A running node: its URL, owner token, data directory and in-process ``Node``."""

    url: str
    owner_token: str
    data_dir: Path
    node: Node

    def client(self, token: str | None = None) -> NodeClient:
        return connect(self.url, token=token or self.owner_token, timeout=30)


@contextmanager
def served_node(
    data_dir: Path,
    *,
    name: str = "t",
    limits: dict[str, Any] | None = None,
    tls: tuple[Path, Path] | None = None,
    database_url: str | None = None,
) -> Iterator[ServedNode]:
    """Initialise a node in ``data_dir``, serve it on 127.0.0.1, stop it afterwards.

    ``tls`` is ``(certificate, key)`` PEM files to serve HTTPS with;
    ``database_url`` puts the node's metadata in PostgreSQL instead of SQLite.
    """
    init = init_node(data_dir, name=name, database_url=database_url)
    settings = NodeSettings.load(data_dir)
    if limits:
        settings = settings.model_copy(update={"limits": settings.limits.model_copy(update=limits)})
        settings.save()
    settings = settings.model_copy(update={"runner_poll_seconds": 0.05})
    node = Node(settings)
    config = uvicorn.Config(
        create_app(node),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test node did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        scheme = "https" if tls else "http"
        yield ServedNode(f"{scheme}://127.0.0.1:{port}", init.owner_token, init.data_dir, node)
    finally:
        server.should_exit = True
        thread.join(30)
        node.close()


def card_for(name: str) -> dict[str, Any]:
    """:data:`CARD` renamed for dataset ``name``."""
    return {**CARD, "name": name}


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "insitu test node")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
