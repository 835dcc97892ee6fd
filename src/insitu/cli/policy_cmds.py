"""``insitu policy``, ``insitu budget`` and ``insitu ledger``: the owner's privacy controls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from insitu.cli.app import (
    App,
    emit_json,
    fields_table,
    out,
    remote_command,
    show_done,
    show_rows,
)
from insitu.client import NodeClient
from insitu.errors import InvalidInput

policy_app = App(
    help="Rules that approve requests, or this node's part of collaborations, automatically "
    "(owner)."
)
budget_app = App(help="Privacy budgets per dataset, in ρ (zCDP).")
#: ``ledger`` lives at the top level; ``main`` adds this app's commands there.
top = App()

DatasetArg = Annotated[str, typer.Argument(help="Dataset name.")]


def parse_rule(rule: str | None, rule_file: Path | None) -> dict[str, Any]:
    """The rule from exactly one of ``--rule`` (JSON text) and ``--rule-file`` (JSON/YAML)."""
    if (rule is None) == (rule_file is None):
        raise InvalidInput("give exactly one of --rule JSON and --rule-file FILE")
    if rule_file is not None:
        import yaml

        try:
            value = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise InvalidInput(f"cannot read rule file {rule_file}: {exc}") from None
    else:
        try:
            value = json.loads(rule or "")
        except ValueError as exc:
            raise InvalidInput(f"--rule is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput('a rule is a JSON object, e.g. \'{"kinds": ["code"]}\'')
    return value


@remote_command(policy_app, "add")
def add(
    node: NodeClient,
    name: Annotated[str, typer.Argument(help="Policy name.")],
    rule: Annotated[
        str | None, typer.Option("--rule", help="Rule as JSON.", show_default=False)
    ] = None,
    rule_file: Annotated[
        Path | None,
        typer.Option("--rule-file", help="Rule in a JSON/YAML file.", show_default=False),
    ] = None,
    as_json: bool = False,
) -> None:
    """Add a policy.

    A request rule takes kinds (dp_query, code), datasets, analysts,
    max_epsilon, max_rho, auto_release. A collaboration rule names only
    collab:<computation> kinds (collab:psi, collab:secure_stats, …) and takes
    datasets, peers, proposers, max_epsilon, max_rho.
    """
    policy = node.policies.add(name, parse_rule(rule, rule_file))
    if as_json:
        emit_json(policy.to_dict())
    else:
        out.print(f"added policy [bold]{policy.name}[/]", highlight=False)


@remote_command(policy_app, "list")
def list_(node: NodeClient, as_json: bool = False) -> None:
    """List policies."""
    rows = [p.to_dict() for p in node.policies.list()]
    show_rows(rows, as_json=as_json, title="policies")


@remote_command(policy_app, "remove")
def remove(
    node: NodeClient,
    name: Annotated[str, typer.Argument(help="Policy name.")],
    as_json: bool = False,
) -> None:
    """Remove a policy."""
    node.policies.remove(name)
    show_done(f"removed policy {name}", {"removed": name}, as_json=as_json)


def _show_budget(data: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        who = data.get("analyst") or "all analysts"
        out.print(fields_table(data, title=f"budget of {data.get('dataset')} ({who})"))


@remote_command(budget_app, "set")
def set_(
    node: NodeClient,
    dataset: DatasetArg,
    rho: Annotated[float, typer.Option("--rho", help="Cap in ρ (zCDP).")],
    analyst: Annotated[
        str, typer.Option("--analyst", help="One analyst's cap (default: the total).")
    ] = "",
    as_json: bool = False,
) -> None:
    """Cap a dataset's privacy loss, in total or for one analyst (owner)."""
    _show_budget(node.budgets.set(dataset, rho=rho, analyst=analyst), as_json=as_json)


@remote_command(budget_app, "show")
def show(
    node: NodeClient,
    dataset: DatasetArg,
    analyst: Annotated[
        str | None,
        typer.Option("--analyst", help="One analyst's budget (owner).", show_default=False),
    ] = None,
    as_json: bool = False,
) -> None:
    """Show cap, spend and what remains."""
    _show_budget(node.budgets.get(dataset, analyst=analyst), as_json=as_json)


@remote_command(top, "ledger")
def ledger(
    node: NodeClient,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Only this dataset.", show_default=False)
    ] = None,
    as_json: bool = False,
) -> None:
    """Show privacy charges (analysts: their own)."""
    rows = list(node.ledger(dataset))
    show_rows(rows, as_json=as_json, title="ledger")
