"""CLI commands that talk to a node, run in-process against a real node on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import Result
from tests.served_node import CARD, ServedNode, card_for, people_csv, served_node
from typer.testing import CliRunner

from insitu.cli.main import app

runner = CliRunner()

SOURCE = '''def by_region(survey):
    """Head count per region."""
    return survey.groupby("region", as_index=False).agg(n=("person_id", "count"))
'''


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    base = tmp_path_factory.mktemp("cli")
    with served_node(base / "node", name="cli") as node:
        with node.client() as owner:
            owner.datasets.add("people", path=people_csv(base / "people.csv"), card=CARD)
        yield node


def cli(node: ServedNode, *args: str, token: str | None = None) -> Result:
    env = {"INSITU_URL": node.url, "INSITU_TOKEN": token or node.owner_token}
    return runner.invoke(app, list(args), env=env)


def cli_json(node: ServedNode, *args: str, token: str | None = None, ok: bool = True) -> Any:
    """Run with ``--json``; the parsed output, or the raw result when ``ok=False``."""
    result = cli(node, *args, "--json", token=token)
    if not ok:
        return result
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_owner_and_analyst_session(live: ServedNode, tmp_path: Path) -> None:
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(card_for("survey")))
    csv = people_csv(tmp_path / "survey.csv")
    added = cli_json(live, "dataset", "add", "survey", str(csv), "--card", str(card))
    assert added["name"] == "survey" and added["rows"] == 50

    member = cli_json(live, "member", "add", "ana", "--role", "analyst")
    ana = member["token"]
    assert member["member"]["role"] == "analyst"
    listed = cli(live, "member", "list")
    assert (
        listed.exit_code == 0 and "ana" in listed.stdout and live.owner_token not in listed.stdout
    )
    assert [m["name"] for m in cli_json(live, "member", "list")] == ["owner", "ana"]

    assert {d["name"] for d in cli_json(live, "dataset", "list", token=ana)} == {"people", "survey"}
    shown = cli(live, "dataset", "show", "survey", token=ana)
    assert shown.exit_code == 0 and "region" in shown.stdout and "north" in shown.stdout
    mock_file = tmp_path / "mock.parquet"
    assert (
        cli(
            live, "dataset", "mock", "survey", "--rows", "12", "--out", str(mock_file), token=ana
        ).exit_code
        == 0
    )
    assert len(pd.read_parquet(mock_file)) == 12
    assert len(cli_json(live, "dataset", "mock", "survey", "--rows", "3", token=ana)) == 3
    copy = cli_json(live, "dataset", "add", "survey", str(csv), "--card", str(card), ok=False)
    assert copy.exit_code == 1 and "error[already_exists]" in copy.stderr

    code = tmp_path / "by_region.py"
    code.write_text(SOURCE)
    req = cli_json(live, "submit-code", str(code), "--dataset", "survey", token=ana)
    rid = str(req["id"])
    assert req["status"] == "pending"
    assert [r["id"] for r in cli_json(live, "request", "list", "--status", "pending")] == [
        req["id"]
    ]
    shown = cli(live, "request", "show", rid)
    assert shown.exit_code == 0 and "def by_region(survey):" in shown.stdout

    refused = cli(live, "request", "approve", rid, token=ana)
    assert refused.exit_code == 1 and "error[forbidden]" in refused.stderr
    preview = cli_json(live, "request", "preview", rid)
    assert {row["region"] for row in preview} <= {"north", "south"}
    assert cli_json(live, "request", "approve", rid)["status"] == "approved"
    assert cli_json(live, "request", "wait", rid, "--timeout", "120")["status"] == "done"
    assert cli_json(live, "request", "release", rid)["status"] == "released"

    rows = cli_json(live, "request", "result", rid, token=ana)
    assert {r["region"]: r["n"] for r in rows} == {"north": 25, "south": 25}
    out_csv = tmp_path / "result.csv"
    saved = cli(live, "request", "result", rid, "--out", str(out_csv), token=ana)
    assert saved.exit_code == 0
    assert set(pd.read_csv(out_csv)["region"]) == {"north", "south"}
    receipt = cli_json(live, "request", "receipt", rid, token=ana)
    assert receipt["request"]["id"] == req["id"] and receipt["signature"]

    second = cli_json(live, "submit-code", str(code), "--dataset", "survey", token=ana)
    denied = cli_json(live, "request", "deny", str(second["id"]), "--reason", "duplicate")
    assert denied["status"] == "denied" and denied["reason"] == "duplicate"
    waited = cli(live, "request", "wait", str(second["id"]), token=ana)
    assert waited.exit_code == 1 and "error[request_denied]" in waited.stderr
    assert "duplicate" in waited.stderr


def test_tokens_policies_budgets_ledger(live: ServedNode, tmp_path: Path) -> None:
    issued = cli_json(live, "member", "add", "bo", "--role", "analyst")
    extra = cli_json(live, "member", "token", "bo", "--expires-in-days", "3", "--label", "ci")
    assert extra["token_info"]["label"] == "ci" and extra["token"] != issued["token"]
    tokens = cli_json(live, "member", "tokens", "bo")
    assert len(tokens) == 2 and all("token" not in t for t in tokens)
    revoked = cli_json(live, "member", "revoke", "bo", "--token-id", str(extra["token_info"]["id"]))
    assert revoked["revoked"] == 1
    gone = cli(live, "dataset", "list", token=extra["token"])
    assert gone.exit_code == 1 and "error[unauthenticated]" in gone.stderr
    assert extra["token"] not in gone.output

    rule = tmp_path / "rule.yaml"
    rule.write_text("kinds: [code]\nauto_release: false\n")
    assert cli_json(live, "policy", "add", "p1", "--rule-file", str(rule))["name"] == "p1"
    assert (
        cli_json(live, "policy", "add", "p2", "--rule", '{"max_epsilon": 0.1}')["rule"][
            "max_epsilon"
        ]
        == 0.1
    )
    assert {p["name"] for p in cli_json(live, "policy", "list")} == {"p1", "p2"}
    both = cli(live, "policy", "add", "p3", "--rule", "{}", "--rule-file", str(rule))
    assert both.exit_code == 1 and "exactly one" in both.stderr
    assert cli_json(live, "policy", "remove", "p1") == {"removed": "p1"}
    assert {p["name"] for p in cli_json(live, "policy", "list")} == {"p2"}
    missing = cli(live, "policy", "remove", "p1")
    assert missing.exit_code == 1 and "error[not_found]" in missing.stderr

    budget = cli_json(live, "budget", "set", "people", "--rho", "0.25")
    assert budget["cap_rho"] == 0.25
    cli_json(live, "budget", "set", "people", "--rho", "0.05", "--analyst", "bo")
    assert cli_json(live, "budget", "show", "people", "--analyst", "bo")["cap_rho"] == 0.05
    shown = cli(live, "budget", "show", "people")
    assert shown.exit_code == 0 and "0.25" in shown.stdout
    assert isinstance(cli_json(live, "ledger"), list)


def test_dp_query_and_estimate(live: ServedNode) -> None:
    token = cli_json(live, "member", "add", "dee", "--role", "analyst")["token"]
    sql = "SELECT region, COUNT(*) FROM people GROUP BY region"
    estimate = cli_json(live, "query", "people", sql, "--rho", "0.1", "--estimate", token=token)
    assert estimate
    both = cli(live, "query", "people", sql, "--rho", "0.1", "--epsilon", "1", token=token)
    assert both.exit_code == 1 and "exactly one" in both.stderr
    cli_json(live, "policy", "add", "dp", "--rule", '{"kinds": ["dp_query"], "auto_release": true}')
    try:
        rows = cli_json(live, "query", "people", sql, "--rho", "0.1", token=token)
    finally:
        cli_json(live, "policy", "remove", "dp")
    assert {r["region"] for r in rows} == {"north", "south"}
    charges = cli_json(live, "ledger", token=token)
    assert [c["analyst"] for c in charges] == ["dee"] and charges[0]["rho"] == pytest.approx(0.1)


def test_dataset_delete_asks_first(live: ServedNode, tmp_path: Path) -> None:
    card = tmp_path / "card.json"
    card.write_text(json.dumps(card_for("scratch")))
    cli_json(
        live, "dataset", "add", "scratch", str(people_csv(tmp_path / "s.csv")), "--card", str(card)
    )
    kept = runner.invoke(
        app,
        ["dataset", "delete", "scratch"],
        input="n\n",
        env={"INSITU_URL": live.url, "INSITU_TOKEN": live.owner_token},
    )
    assert kept.exit_code == 1
    assert "scratch" in {d["name"] for d in cli_json(live, "dataset", "list")}
    assert cli_json(live, "dataset", "delete", "scratch", "--yes") == {"deleted": "scratch"}
    assert "scratch" not in {d["name"] for d in cli_json(live, "dataset", "list")}
