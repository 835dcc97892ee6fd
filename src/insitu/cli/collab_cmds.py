"""``insitu psi`` and ``insitu secure-stats``: propose a multi-party job, optionally wait for it.

Either from a JSON/YAML file — a whole collaboration spec (with ``parties``),
or the keyword arguments of :func:`insitu.psi` / :func:`insitu.secure_stats`
— or from options. ``--wait`` shows each party's approval and the job's state
live (on stderr) and prints the result at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.live import Live
from rich.table import Table

from insitu.cli.app import App, emit_json, err, fields_table, out, remote_command, show_value
from insitu.client import NodeClient
from insitu.client.collaborations import Collaboration
from insitu.client.recipes import psi as propose_psi
from insitu.client.recipes import secure_stats as propose_stats
from insitu.errors import InvalidInput, Unavailable

#: ``psi`` and ``secure-stats`` live at the top level; ``main`` adds them there.
top = App()

SpecFile = Annotated[
    Path | None,
    typer.Argument(help="JSON/YAML: a collaboration spec, or the recipe's keyword arguments."),
]
Wait = Annotated[bool, typer.Option("--wait", help="Follow each party until the job ends.")]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds --wait waits.")]
Eps = Annotated[
    float | None, typer.Option("--epsilon", help="DP noise, ε in nats.", show_default=False)
]
Rho = Annotated[float | None, typer.Option("--rho", help="DP noise, ρ-zCDP.", show_default=False)]
Results = Annotated[
    list[str] | None, typer.Option("--result", help="Result party (repeat).", show_default=False)
]
Peers = Annotated[
    Path | None,
    typer.Option(
        "--peers", help="JSON/YAML {name: {url, public_key}} (analysts).", show_default=False
    ),
]


def load_file(path: Path) -> dict[str, Any]:
    """A JSON or YAML mapping from ``path``."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping")
    return data


def party_dataset(text: str) -> tuple[str, str]:
    """``NODE:DATASET`` → ``(node, dataset)``."""
    node, sep, dataset = text.partition(":")
    if not sep or not node or not dataset:
        raise InvalidInput(f"expected NODE:DATASET, got {text!r}")
    return node, dataset


def _dp(epsilon: float | None, rho: float | None) -> dict[str, float] | None:
    if epsilon is not None and rho is not None:
        raise InvalidInput("give at most one of --epsilon and --rho")
    if epsilon is not None:
        return {"epsilon": epsilon}
    return None if rho is None else {"rho": rho}


def _progress(c: Collaboration) -> Table:
    table = Table(title=f"{c.id}: {c.state}", title_justify="left")
    table.add_column("party")
    table.add_column("roles")
    table.add_column("approved")
    for p in c.data["parties"]:
        mark = "[green]yes[/]" if p["approved"] else "[yellow]waiting[/]"
        table.add_row(p["name"], ", ".join(p.get("roles", [])), mark)
    return table


def follow(node: NodeClient, proposed: Collaboration, *, timeout: float, as_json: bool) -> None:
    """Show each party's approval and the state until the job ends, then its result."""
    end = time.monotonic() + timeout
    current = proposed
    with Live(_progress(current), console=err, refresh_per_second=4, transient=as_json) as live:
        while not current.finished:
            if time.monotonic() > end:
                raise Unavailable(f"collaboration {current.id!r} still {current.state}")
            time.sleep(0.3)
            current = current.refresh()
            live.update(_progress(current))
    if current.state != "done":
        raise InvalidInput(f"collaboration {current.id} {current.state}: {current.reason}")
    if current.data.get("result_available") is False:
        out.print(f"{current.id} done; the result went to the result parties", highlight=False)
        return
    value = node.collaborations.result(current.id, blobs=False)  # large values as references
    show_value(value, as_json=as_json, title=current.id)


def _propose(
    node: NodeClient,
    spec_file: Path | None,
    recipe: Callable[..., Collaboration],
    options: dict[str, Any],
    peers: Path | None,
) -> Collaboration:
    data: dict[str, Any] = {}
    if spec_file is not None:
        data = load_file(spec_file)
        if "parties" in data:
            return node.collaborations.propose(data)
    data.update({k: v for k, v in options.items() if v not in (None, [], ())})
    if peers is not None:
        data["peers"] = load_file(peers)
    return recipe(node, **data)


def _report(node: NodeClient, c: Collaboration, wait: bool, timeout: float, as_json: bool) -> None:
    if wait:
        follow(node, c, timeout=timeout, as_json=as_json)
    elif as_json:
        emit_json(c.data)
    else:
        out.print(fields_table({"id": c.id, "state": c.state, "parties": ", ".join(c.parties)}))


@remote_command(top, "psi")
def psi(
    node: NodeClient,
    spec_file: SpecFile = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="intersection, cardinality, sum or payload.")
    ] = None,
    receiver: Annotated[str | None, typer.Option("--receiver", help="NODE:DATASET.")] = None,
    sender: Annotated[str | None, typer.Option("--sender", help="NODE:DATASET.")] = None,
    key: Annotated[list[str] | None, typer.Option("--key", help="Key column (repeat).")] = None,
    value: Annotated[str | None, typer.Option("--value", help="SUM: the summed column.")] = None,
    value_scale: Annotated[
        float | None, typer.Option("--value-scale", help="SUM: factor to whole units.")
    ] = None,
    value_bound: Annotated[
        int | None, typer.Option("--value-bound", help="SUM with DP: largest scaled value.")
    ] = None,
    casefold: Annotated[bool, typer.Option("--casefold", help="Compare keys case-blind.")] = False,
    epsilon: Eps = None,
    rho: Rho = None,
    result: Results = None,
    peers: Peers = None,
    wait: Wait = False,
    timeout: Timeout = 600.0,
    as_json: bool = False,
) -> None:
    """Propose a private set intersection between two nodes' datasets."""
    options: dict[str, Any] = {
        "mode": mode,
        "receiver": None if receiver is None else party_dataset(receiver),
        "sender": None if sender is None else party_dataset(sender),
        "key": key,
        "value": value,
        "value_scale": value_scale,
        "value_bound": value_bound,
        "normalise": {"casefold": True} if casefold else None,
        "dp": _dp(epsilon, rho),
        "result_parties": result,
    }
    proposed = _propose(node, spec_file, _psi_recipe, options, peers)
    _report(node, proposed, wait, timeout, as_json)


def _psi_recipe(node: NodeClient, **kwargs: Any) -> Collaboration:
    for side in ("receiver", "sender"):
        if isinstance(kwargs.get(side), str):
            kwargs[side] = party_dataset(kwargs[side])
        elif isinstance(kwargs.get(side), list):
            kwargs[side] = tuple(kwargs[side])
    return propose_psi(node, **kwargs)


def parse_stat(text: str) -> dict[str, Any]:
    """``count``, ``mean:COL``, ``sum:COL``, ``variance:COL``, ``histogram:COL``,
    ``crosstab:ROWS,COLS``, ``quantiles:COL@0.5,0.9``, ``ols:Y~X1+X2``, ``logistic:Y~X``."""
    kind, _, arg = text.partition(":")
    if kind == "count" and not arg:
        return {"kind": "count"}
    if kind in ("mean", "sum", "variance", "histogram") and arg:
        return {"kind": kind, "column": arg}
    if kind == "crosstab" and arg.count(",") == 1:
        rows, cols = arg.split(",")
        return {"kind": kind, "rows": rows, "cols": cols}
    if kind == "quantiles" and "@" in arg:
        column, probs = arg.split("@", 1)
        return {"kind": kind, "column": column, "probs": [float(p) for p in probs.split(",")]}
    if kind in ("ols", "logistic") and "~" in arg:
        y, xs = arg.split("~", 1)
        return {"kind": kind, "y": y.strip(), "x": [x.strip() for x in xs.split("+")]}
    raise InvalidInput(f"cannot read statistic {text!r}; see insitu secure-stats --help")


def _stats_recipe(node: NodeClient, **kwargs: Any) -> Collaboration:
    kwargs["inputs"] = [
        party_dataset(p) if isinstance(p, str) else tuple(p) for p in kwargs.get("inputs", [])
    ]
    kwargs["statistics"] = [
        parse_stat(s) if isinstance(s, str) else s for s in kwargs.get("statistics", [])
    ]
    return propose_stats(node, **kwargs)


@remote_command(top, "secure-stats")
def secure_stats(
    node: NodeClient,
    spec_file: SpecFile = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", help="NODE:DATASET of an input party (repeat).")
    ] = None,
    computing: Annotated[
        list[str] | None, typer.Option("--computing", help="Computing node (repeat, 2 or 3).")
    ] = None,
    stat: Annotated[
        list[str] | None,
        typer.Option("--stat", help="count, mean:COL, histogram:COL, crosstab:R,C, ols:Y~X+Z …"),
    ] = None,
    card: Annotated[
        Path | None, typer.Option("--card", help="Common card (YAML/JSON).", show_default=False)
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", help="Public bound on all rows together.")
    ] = None,
    quorum: Annotated[
        int | None, typer.Option("--quorum", help="Fewest inputs that must contribute.")
    ] = None,
    result: Annotated[
        str | None, typer.Option("--result", help="Result node (default: this node).")
    ] = None,
    rho: Rho = None,
    peers: Peers = None,
    wait: Wait = False,
    timeout: Timeout = 600.0,
    as_json: bool = False,
) -> None:
    """Propose secure multi-party statistics over several nodes' datasets."""
    options: dict[str, Any] = {
        "inputs": inputs,
        "computing": computing,
        "statistics": stat,
        "card": card,
        "max_rows": max_rows,
        "quorum": quorum,
        "result": result,
        "dp": _dp(None, rho),
    }
    proposed = _propose(node, spec_file, _stats_recipe, options, peers)
    _report(node, proposed, wait, timeout, as_json)


__all__ = ["follow", "load_file", "parse_stat", "party_dataset", "top"]
