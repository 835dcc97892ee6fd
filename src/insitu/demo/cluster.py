"""Starts real node processes for the demo through the ``insitu`` CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CLI = [sys.executable, "-c", "from insitu.cli.main import app; app()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoNode:
    """A node the demo created: its directory, URL, owner token and server process."""

    name: str
    data_dir: Path
    owner_token: str
    public_key: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = open(self.data_dir / "server.log", "ab")  # noqa: SIM115 - the server owns it
        self.proc = subprocess.Popen(
            [
                *CLI,
                "node",
                "start",
                str(self.data_dir),
                "--port",
                str(self.port),
                # loopback only: the demo's nodes talk plain HTTP to each other
                "--insecure-peers",
                "--public-url",
                self.url,
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.data_dir / "server.log").read_text()[-2000:]
                raise RuntimeError(f"node {self.name} exited during start:\n{tail}")
            try:
                if httpx.get(self.url + "/v1/node", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {self.name} did not start within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None


def init_node(root: Path, name: str) -> DemoNode:
    """``insitu node init DIR --name NAME --json``, exactly as an owner would run it."""
    out = subprocess.run(
        [*CLI, "node", "init", str(root / name), "--name", name, "--json"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    info = json.loads(out.stdout)
    return DemoNode(name, root / name, info["owner_token"], info["public_key"])
