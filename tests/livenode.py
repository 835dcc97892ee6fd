"""A real node process (uvicorn in a subprocess) that tests can start, stop, kill and restart.

``LiveNode.create(tmp_path, name)`` initialises a data directory;
``start()`` serves it on a free loopback port (kept across restarts) and
waits until ``GET /v1/node`` answers; ``kill()`` sends SIGKILL (no clean
shutdown); ``http(token)`` is an ``httpx.Client`` acting as the owner or as
the holder of ``token``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from insitu.node.init import init_node

SERVE = """
import sys
import uvicorn
from insitu.node.api.app import create_app
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

node = Node(NodeSettings.load(sys.argv[1]))
uvicorn.run(create_app(node), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveNode:
    """One node's data directory and, while started, its server process."""

    data_dir: Path
    name: str
    owner_token: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, tmp_path: Path, name: str, *, database_url: str | None = None) -> LiveNode:
        result = init_node(tmp_path / name, name=name, database_url=database_url)
        return cls(result.data_dir, name, result.owner_token)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiveNode:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(self.data_dir), str(self.port)], env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/v1/node", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"node {self.name} did not become ready")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)
        self.proc = None

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.owner_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)
