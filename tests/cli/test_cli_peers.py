"""``insitu peer``: invites, accepting them, and managing the register on local directories."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from insitu.cli.main import app

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_invite_add_suspend_resume_remove(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _ok("node", "init", str(a), "--name", "office-a", "--json")
    _ok("node", "init", str(b), "--name", "office-b", "--json")
    invite = json.loads(_ok("peer", "invite", str(b), "--url", "https://b.example:8443", "--json"))
    assert invite["invite"].startswith("insitu-peer:v1:office-b@https://b.example:8443#")
    added = json.loads(_ok("peer", "add", str(a), invite["invite"], "--json"))
    assert added["fingerprint"] == invite["fingerprint"] and added["status"] == "active"
    _ok("peer", "suspend", str(a), "office-b")
    peers = json.loads(_ok("peer", "list", str(a), "--json"))
    assert [(p["name"], p["status"]) for p in peers] == [("office-b", "suspended")]
    _ok("peer", "resume", str(a), "office-b")
    _ok("peer", "remove", str(a), "office-b")
    assert json.loads(_ok("peer", "list", str(a), "--json")) == []


def test_plain_http_invite_is_refused_without_insecure_peers(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _ok("node", "init", str(a), "--name", "office-a", "--json")
    _ok("node", "init", str(b), "--name", "office-b", "--json")
    invite = json.loads(_ok("peer", "invite", str(b), "--url", "http://b.example", "--json"))
    result = runner.invoke(app, ["peer", "add", str(a), invite["invite"]])
    assert result.exit_code != 0
    assert "http" in result.output.lower()
    garbled = runner.invoke(app, ["peer", "add", str(a), "insitu-peer:v1:nonsense"])
    assert garbled.exit_code != 0 and "error" in garbled.output.lower()
