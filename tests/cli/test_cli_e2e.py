"""End to end: ``insitu node start`` as a real process, driven by ``insitu`` subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.served_node import CARD, people_csv, self_signed

from insitu.client import connect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INSITU = [sys.executable, "-m", "insitu.cli.main"]
SOURCE = "def mean_age(people):\n    return float(people['age'].mean())\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def insitu(*args: str, env: dict[str, str] | None = None, ok: bool = True) -> Any:
    """Run one ``insitu ... --json`` command; return its parsed stdout."""
    proc = subprocess.run(
        [*INSITU, *args, "--json"],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    return proc


def wait_ready(proc: subprocess.Popen[str], url: str, *, verify: Path | bool = True) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            tls = (
                ssl.create_default_context(cafile=str(verify)) if isinstance(verify, Path) else True
            )
            if httpx.get(f"{url}/v1/node", timeout=1, verify=tls).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the node did not become ready")


def test_tls_node_process_driven_by_cli_commands(tmp_path: Path) -> None:
    init = insitu("node", "init", str(tmp_path / "node"), "--name", "e2e")
    cert, key = self_signed(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    tls = ["--tls-cert", str(cert), "--tls-key", str(key)]
    server = subprocess.Popen(
        [*INSITU, "node", "start", str(tmp_path / "node"), "--port", str(port), *tls],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(server, url, verify=cert)
        with connect(url, token=init["owner_token"], verify=cert) as client:
            assert client.me.name == "owner"
        owner = {
            "INSITU_URL": url,
            "INSITU_TOKEN": init["owner_token"],
            "INSITU_CA_BUNDLE": str(cert),
        }
        untrusted = insitu("member", "list", env={**owner, "INSITU_CA_BUNDLE": ""}, ok=False)
        assert untrusted.returncode == 1 and "error[unavailable]" in untrusted.stderr
        ana = {**owner, "INSITU_TOKEN": insitu("member", "add", "ana", env=owner)["token"]}
        card = tmp_path / "card.json"
        card.write_text(json.dumps(CARD))
        csv = people_csv(tmp_path / "people.csv", rows=10)
        assert (
            insitu("dataset", "add", "people", str(csv), "--card", str(card), env=owner)["rows"]
            == 10
        )
        code = tmp_path / "mean_age.py"
        code.write_text(SOURCE)
        rid = str(insitu("submit-code", str(code), "--dataset", "people", env=ana)["id"])
        refused = insitu("request", "approve", rid, env=ana, ok=False)
        assert refused.returncode == 1 and "error[forbidden]" in refused.stderr
        assert "Traceback" not in refused.stderr and init["owner_token"] not in refused.stderr
        insitu("request", "approve", rid, env=owner)
        assert insitu("request", "wait", rid, env=ana)["status"] == "done"
        insitu("request", "release", rid, env=owner)
        assert insitu("request", "result", rid, env=ana) == pytest.approx(24.5)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert f"ready at {url}" in stderr and "node stopped (SIGTERM)" in stderr
