"""``insitu node init``: a new data directory with its key, database and first owner."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from insitu.crypto.signing import SigningKey
from insitu.errors import AlreadyExists, InvalidInput
from insitu.node.settings import CONFIG_FILE, NodeSettings


@dataclass(frozen=True)
class InitResult:
    """What ``init`` shows once: the owner's token is not stored anywhere in clear."""

    data_dir: Path
    name: str
    owner: str
    owner_token: str
    public_key: str
    fingerprint: str
    database_url: str


def init_node(
    data_dir: str | Path, *, name: str, owner: str = "owner", database_url: str | None = None
) -> InitResult:
    """Create a node directory. Refuses a directory that already holds a node."""
    from insitu.node.node import Node

    d = Path(data_dir).resolve()
    if (d / CONFIG_FILE).exists():
        raise AlreadyExists(f"{d} already holds a node")
    if d.exists() and not d.is_dir():
        raise InvalidInput(f"{d} exists and is not a directory")
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    settings = NodeSettings(name=name, data_dir=d, database_url=database_url)
    key = SigningKey.generate()
    fd = os.open(settings.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.to_pem())
    settings.save()
    node = Node(settings)
    try:
        with node.store.transaction():
            node.audit.record(
                "node", "node.initialised", f"node:{name}", {"public_key": key.public_key.to_text()}
            )
            issued = node.members.add(owner, "owner", by="node")
    finally:
        node.store.close()
    return InitResult(
        d,
        name,
        owner,
        issued.token,
        key.public_key.to_text(),
        key.public_key.fingerprint(),
        settings.db_url,
    )
