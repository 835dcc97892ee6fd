"""Outbound signed calls to peers: one pooled ``httpx.Client`` with the node's TLS settings."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.federation.signing import sign_request


def peer_tls(ca_file: Path | None) -> ssl.SSLContext | bool:
    """TLS verification for peer calls: the system CAs, or only the CA in ``ca_file``."""
    if ca_file is None:
        return True
    if not Path(ca_file).is_file():
        raise InvalidInput(f"peer CA file {ca_file} does not exist")
    return ssl.create_default_context(cafile=str(ca_file))


class PeerClient:
    """Signs and sends JSON control notices to peers.

    Each call is signed with :func:`insitu.federation.signing.sign_request`
    (method, path, body hash, timestamp, fresh nonce); the receiver checks it
    against the key it registered for this node.
    """

    def __init__(
        self,
        key: SigningKey,
        *,
        ca_file: Path | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._key_id = key.public_key.fingerprint()
        self._clock = clock
        self.http = httpx.Client(verify=peer_tls(ca_file), timeout=timeout)

    def post_json(self, url: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST ``body`` to ``url + path``, signed; network errors propagate as ``httpx`` errors."""
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        headers = sign_request(
            self._key,
            method="POST",
            path=path,
            body=raw,
            now=self._clock(),
            key_id=self._key_id,
        )
        headers["Content-Type"] = "application/json"
        return self.http.post(url.rstrip("/") + path, content=raw, headers=headers)

    def close(self) -> None:
        self.http.close()


__all__ = ["PeerClient", "peer_tls"]
