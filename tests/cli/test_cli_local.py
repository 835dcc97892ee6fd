"""CLI commands that work on a local node directory: init, audit verify/export, start options."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from insitu.cli.main import app
from insitu.crypto.signing import SigningKey

runner = CliRunner()


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    result = runner.invoke(app, ["node", "init", str(tmp_path / "n"), "--name", "office", "--json"])
    assert result.exit_code == 0, result.output
    return tmp_path / "n"


def test_init_json_shows_the_owner_token_and_key(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["node", "init", str(tmp_path / "a"), "--name", "a1", "--owner", "olga", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["owner_token"].startswith("ins_") and data["owner"] == "olga"
    assert data["public_key"] and data["fingerprint"]
    assert Path(data["data_dir"]) == (tmp_path / "a").resolve()
    assert (tmp_path / "a" / "node.json").is_file()


def test_init_refuses_an_existing_node_with_one_clean_line(node_dir: Path) -> None:
    result = runner.invoke(app, ["node", "init", str(node_dir), "--name", "again"])
    assert result.exit_code == 1
    assert "error[already_exists]" in result.stderr
    assert "Traceback" not in result.output


def test_init_rich_output_mentions_the_token_once(tmp_path: Path) -> None:
    result = runner.invoke(app, ["node", "init", str(tmp_path / "b"), "--name", "b"])
    assert result.exit_code == 0
    assert result.stdout.count("ins_") == 1 and "shown once" in result.stdout


def test_audit_verify_clean_then_tampered(node_dir: Path) -> None:
    ok = runner.invoke(app, ["audit", "verify", str(node_dir)])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.stdout
    with sqlite3.connect(node_dir / "node.db") as db:
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 0")
    bad = runner.invoke(app, ["audit", "verify", str(node_dir), "--json"])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert {k: report["problems"][0][k] for k in ("seq", "kind")} == {"seq": 0, "kind": "edited"}
    table = runner.invoke(app, ["audit", "verify", str(node_dir)])
    assert table.exit_code == 1 and "edited" in table.stdout


def test_audit_verify_notices_deleted_entries(node_dir: Path) -> None:
    with sqlite3.connect(node_dir / "node.db") as db:
        newest = db.execute("SELECT max(seq) FROM audit").fetchone()[0]
        db.execute("DELETE FROM audit WHERE seq = ?", (newest,))
    result = runner.invoke(app, ["audit", "verify", str(node_dir), "--json"])
    assert result.exit_code == 1
    assert "truncated" in {p["kind"] for p in json.loads(result.stdout)["problems"]}


def test_audit_export_and_verify_export(node_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "audit.jsonl"
    exported = runner.invoke(app, ["audit", "export", str(node_dir), str(dest), "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["entries"] >= 2
    assert runner.invoke(app, ["audit", "verify-export", str(dest)]).exit_code == 0
    key = json.loads(dest.read_text().splitlines()[0])["public_key"]
    good = runner.invoke(app, ["audit", "verify-export", str(dest), "--public-key", key])
    assert good.exit_code == 0
    other = SigningKey.generate().public_key.to_text()
    wrong = runner.invoke(app, ["audit", "verify-export", str(dest), "--public-key", other])
    assert wrong.exit_code == 1
    lines = dest.read_text().splitlines()
    lines[1] = lines[1].replace('"node"', '"someone"', 1)
    dest.write_text("\n".join(lines) + "\n")
    tampered = runner.invoke(app, ["audit", "verify-export", str(dest), "--json"])
    assert tampered.exit_code == 1 and json.loads(tampered.stdout)["ok"] is False
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not json\n")
    refused = runner.invoke(app, ["audit", "verify-export", str(garbage)])
    assert refused.exit_code == 1 and "error[invalid_input]" in refused.stderr


def test_audit_on_a_directory_without_a_node(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", str(tmp_path)])
    assert result.exit_code == 1 and "not an insitu node directory" in result.stderr


def test_start_refuses_half_a_tls_configuration(node_dir: Path, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = runner.invoke(app, ["node", "start", str(node_dir), "--tls-cert", str(cert)])
    assert result.exit_code == 1 and "--tls-key" in result.stderr


def test_remote_commands_need_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INSITU_URL", raising=False)
    result = runner.invoke(app, ["member", "list"])
    assert result.exit_code == 1 and "INSITU_URL" in result.stderr


def test_demo_slot_reports_a_missing_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "insitu.demo.main", None)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 1 and "not part of this installation" in result.stderr


def test_help_lists_every_command_group() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in (
        "node",
        "audit",
        "member",
        "dataset",
        "request",
        "submit-code",
        "policy",
        "budget",
        "ledger",
        "demo",
    ):
        assert name in result.stdout
