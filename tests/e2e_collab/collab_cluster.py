"""Three real node processes that know each other as peers, and a switchable TCP link."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.livenode import LiveNode
from tests.node_api.conftest import CARD

from insitu.crypto.signing import SigningKey
from insitu.node.settings import NodeSettings

NAMES = ("office-a", "office-b", "office-c")


def public_key(node: LiveNode) -> str:
    """A node's public key, read from its data directory."""
    return key_of(node).public_key.to_text()


def key_of(node: LiveNode) -> SigningKey:
    return SigningKey.from_pem(NodeSettings.load(node.data_dir).key_path.read_bytes())


ROWS = {"office-a": 3, "office-b": 4, "office-c": 5}


def csv_rows(n: int) -> str:
    lines = ["person_id,age,region,income"]
    lines += [f"p{i},{20 + i},{'north' if i % 2 else 'south'},{1000 * i}" for i in range(n)]
    return "\n".join(lines) + "\n"


class Link:
    """A TCP forwarder in front of a node: ``cut()`` drops every connection until ``heal()``."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._up = True
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.close()
            self._open.clear()

    def heal(self) -> None:
        with self._lock:
            self._up = True

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                up = self._up
            if not up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update({client, upstream})
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self.cut()
        self._listener.close()


@dataclass
class Cluster:
    """Three peered nodes; office-c is reached by the others through ``link``."""

    nodes: dict[str, LiveNode]
    link: Link
    analyst_token: str
    counter: list[int] = field(default_factory=lambda: [0])

    def url_of(self, name: str) -> str:
        return self.link.url if name == "office-c" else self.nodes[name].url

    def owner(self, name: str) -> httpx.Client:
        return self.nodes[name].http()

    def new_id(self, label: str) -> str:
        self.counter[0] += 1
        return f"{label}-{self.counter[0]}-{time.time_ns() % 10**9}"

    def spec(
        self,
        collab_id: str,
        *,
        timeout: float = 60,
        result: str = "office-a",
        costs: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        parties = []
        for name, node in self.nodes.items():
            roles = ["input", "result"] if name == result else ["input"]
            parties.append(
                {
                    "name": name,
                    "url": self.url_of(name),
                    "public_key": public_key(node),
                    "roles": roles,
                    "datasets": ["persons"],
                }
            )
        privacy = [
            {"party": n, "dataset": "persons", **((costs or {}).get(n) or {"exact": True})}
            for n in self.nodes
        ]
        return {
            "collab_id": collab_id,
            "computation": "secure_count",
            "parties": parties,
            "privacy_costs": privacy,
            "result_parties": [result],
            "timeout_seconds": timeout,
        }

    def view(self, name: str, collab_id: str) -> dict[str, Any]:
        with self.owner(name) as c:
            r = c.get(f"/v1/collaborations/{collab_id}")
            if r.status_code == 404:
                return {"state": "absent"}
            assert r.status_code == 200, r.text
            return dict(r.json())

    def wait(
        self, name: str, collab_id: str, states: set[str], *, timeout: float = 60
    ) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            v = self.view(name, collab_id)
            if v["state"] in states:
                return v
            if time.monotonic() > end:
                raise AssertionError(f"{name}: {collab_id} stayed {v['state']}, wanted {states}")
            time.sleep(0.1)

    def approve(self, name: str, collab_id: str) -> dict[str, Any]:
        self.wait(name, collab_id, {"proposed"})
        with self.owner(name) as c:
            r = c.post(f"/v1/collaborations/{collab_id}/approve")
            assert r.status_code == 200, r.text
            return dict(r.json())

    def audit(self, name: str) -> list[dict[str, Any]]:
        with self.owner(name) as c:
            return list(c.get("/v1/audit", params={"limit": 10000}).json())


def make_cluster(root: Path) -> Iterator[Cluster]:
    nodes = {name: LiveNode.create(root, name) for name in NAMES}
    link = Link(nodes["office-c"].port)
    for node in nodes.values():
        settings = NodeSettings.load(node.data_dir)
        settings.insecure_peers = True
        settings.public_url = node.url
        settings.save()
    try:
        for node in nodes.values():
            node.start()
        for name, node in nodes.items():
            with node.http() as c:
                for other, peer in nodes.items():
                    if other == name:
                        continue
                    url = link.url if other == "office-c" else peer.url
                    body = {"name": other, "url": url, "public_key": public_key(peer)}
                    assert c.post("/v1/peers", json=body).status_code == 201
                up = c.put("/v1/uploads", content=csv_rows(ROWS[name]).encode()).json()
                ds = {"name": "persons", "card": CARD, "upload_id": up["upload_id"]}
                assert c.post("/v1/datasets", json=ds).status_code == 201
        with nodes["office-a"].http() as c:
            token = c.post("/v1/members", json={"name": "ana", "role": "analyst"}).json()["token"]
        yield Cluster(nodes, link, token)
    finally:
        for node in nodes.values():
            node.stop()
        link.close()
