"""Three real peered nodes holding key lists and survey tables, for the recipe tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tests.e2e_collab.collab_cluster import public_key
from tests.livenode import LiveNode

import insitu
from insitu.client import NodeClient
from insitu.node.settings import NodeSettings

NAMES = ("office-a", "office-b", "office-c")

KEYS_CARD: dict[str, Any] = {
    "name": "keys",
    "privacy_unit": {"column": "id", "max_rows": 1},
    "columns": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "integer", "lower": 0, "upper": 1000},
        {"name": "value_eur", "type": "float", "lower": 0, "upper": 10000},
        {"name": "sector", "type": "category", "categories": ["farm", "shop", "tech"]},
    ],
}

SURVEY_CARD: dict[str, Any] = {
    "name": "survey",
    "privacy_unit": {"column": "pid", "max_rows": 1},
    "columns": [
        {"name": "pid", "type": "string"},
        {"name": "age", "type": "integer", "lower": 18, "upper": 90},
        {"name": "income", "type": "float", "lower": 0, "upper": 200000},
        {"name": "region", "type": "category", "categories": ["north", "south", "east"]},
    ],
}

#: Each office's key ids: a∩b = k20..k39, b∩c = k60..k69, a∩c = none.
IDS = {
    "office-a": [f"k{i}" for i in range(0, 40)],
    "office-b": [f"k{i}" for i in range(20, 70)],
    "office-c": [f"k{i}" for i in range(60, 90)],
}
SURVEY_ROWS = {"office-a": 60, "office-b": 90, "office-c": 45}

GRID_CELLS = 500
GRID_CARD: dict[str, Any] = {
    "name": "grid",
    "privacy_unit": {"column": "cell", "max_rows": 1},
    "columns": [
        {"name": "cell", "type": "integer", "lower": 0, "upper": 10_000},
        {"name": "value", "type": "float", "lower": -100, "upper": 100},
    ],
}


def keys_table(name: str) -> pd.DataFrame:
    ids = IDS[name]
    n = len(ids)
    rng = np.random.default_rng(NAMES.index(name))
    return pd.DataFrame(
        {
            "id": ids,
            "amount": [(7 * int(i[1:]) + len(name)) % 1000 for i in ids],
            "value_eur": np.round(rng.uniform(0, 10000, n), 2),
            "sector": rng.choice(["farm", "shop", "tech"], n),
        }
    )


def survey_table(name: str, *, bad_age: bool = False) -> pd.DataFrame:
    n = SURVEY_ROWS[name]
    rng = np.random.default_rng(NAMES.index(name) + 7)
    age = rng.integers(18, 91, n)
    region = rng.choice(["north", "south", "east"], n)
    income = np.clip(8000 + 600 * age + rng.normal(0, 5000, n), 0, 200000).round(2)
    frame = pd.DataFrame(
        {"pid": [f"{name}-{i}" for i in range(n)], "age": age, "income": income, "region": region}
    )
    if bad_age:
        frame.loc[0, "age"] = 120  # inside this node's own card, outside the common one
    return frame


def grid_table(name: str, cells: int = GRID_CELLS) -> pd.DataFrame:
    """One value per grid cell, lined up across offices (a vector in row order)."""
    rng = np.random.default_rng(NAMES.index(name) + 11)
    return pd.DataFrame({"cell": np.arange(cells), "value": rng.uniform(-100, 100, cells).round(4)})


@dataclass
class RecipeCluster:
    """Three peered node processes; owners' clients and a data directory for the truth."""

    nodes: dict[str, LiveNode]
    root: Path

    def owner(self, name: str) -> NodeClient:
        return insitu.connect(self.nodes[name].url, token=self.nodes[name].owner_token)

    def approve_all(self, collab_id: str, names: tuple[str, ...] = NAMES) -> None:
        for name in names:
            with self.owner(name) as owner:
                for _ in range(300):
                    if any(c.id == collab_id for c in owner.collaborations.list(status="pending")):
                        break
                    time.sleep(0.1)
                owner.collaborations.approve(collab_id)


def _upload(
    owner: NodeClient, root: Path, node: str, name: str, frame: pd.DataFrame, card: dict[str, Any]
) -> None:
    path = root / f"{node}-{name}.csv"
    frame.to_csv(path, index=False)
    owner.datasets.add(name, path=path, card={**card, "name": name})
    owner.budgets.set(name, rho=1000.0)


def _live(root: Path, name: str) -> LiveNode:
    """A node that talks plain HTTP to its peers on loopback and names its own URL."""
    node = LiveNode.create(root, name)
    settings = NodeSettings.load(node.data_dir)
    settings.insecure_peers, settings.public_url = True, node.url
    settings.save()
    return node


def _stock(root: Path, name: str, nodes: dict[str, LiveNode]) -> None:
    """Register the other nodes as peers and upload this node's datasets."""
    with insitu.connect(nodes[name].url, token=nodes[name].owner_token) as owner:
        for other, peer in nodes.items():
            if other != name:
                owner.peers.add(other, url=peer.url, public_key=public_key(peer))
        _upload(owner, root, name, "keys", keys_table(name), KEYS_CARD)
        _upload(owner, root, name, "survey", survey_table(name), SURVEY_CARD)
        _upload(owner, root, name, "grid", grid_table(name), GRID_CARD)
        if name == "office-c":
            _upload(owner, root, name, "grid_short", grid_table(name, GRID_CELLS - 7), GRID_CARD)
            wide = dict(SURVEY_CARD, columns=[dict(c) for c in SURVEY_CARD["columns"]])
            wide["columns"][1]["upper"] = 130
            _upload(owner, root, name, "survey_odd", survey_table(name, bad_age=True), wide)


def make_recipe_cluster(root: Path) -> Iterator[RecipeCluster]:
    nodes = {name: _live(root, name) for name in NAMES}
    try:
        with ThreadPoolExecutor(len(nodes)) as pool:  # the nodes start and fill up side by side
            list(pool.map(lambda n: n.start(), nodes.values()))
            list(pool.map(lambda name: _stock(root, name, nodes), nodes))
        yield RecipeCluster(nodes, root)
    finally:
        for node in nodes.values():
            node.stop()
