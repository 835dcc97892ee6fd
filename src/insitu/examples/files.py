"""How example generators hand back their output: CSV + card YAML per table, and the truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from insitu.errors import InvalidInput, NotFound
from insitu.tables.card import Card
from insitu.tables.dtypes import conform
from insitu.tables.variates import Variates


@dataclass(frozen=True)
class ExampleTable:
    """One generated table: its CSV file and its card file."""

    name: str
    csv: Path
    card: Path

    def load_card(self) -> Card:
        return Card.load(self.card)


@dataclass(frozen=True)
class ExampleSet:
    """The tables a generator wrote, and the true answers a computation should find.

    ``truth`` is also written to ``truth.json`` in the directory.
    """

    directory: Path
    tables: list[ExampleTable]
    truth: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> ExampleTable:
        """The table called ``name``."""
        for t in self.tables:
            if t.name == name:
                return t
        raise NotFound(
            f"no example table {name!r}; tables: {', '.join(t.name for t in self.tables)}"
        )


def prepare(directory: str | Path) -> Path:
    """Create ``directory`` (and parents) and return it as a Path."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_table(frame: pd.DataFrame, card: Card, directory: Path) -> ExampleTable:
    """Write ``frame`` as ``<card.name>.csv`` and the card as ``<card.name>.card.yaml``."""
    if list(frame.columns) != card.column_names:
        raise InvalidInput(f"columns {list(frame.columns)} do not match card {card.column_names}")
    frame = conform(frame, card)
    csv_path = directory / f"{card.name}.csv"
    card_path = directory / f"{card.name}.card.yaml"
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype.kind == "M":
            out[name] = out[name].dt.strftime("%Y-%m-%d")
        elif str(out[name].dtype) in ("bool", "boolean"):
            out[name] = out[name].map({True: "true", False: "false"})
    out.to_csv(csv_path, index=False, lineterminator="\n", encoding="utf-8")
    card_path.write_text(
        yaml.safe_dump(card.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return ExampleTable(card.name, csv_path, card_path)


def finish(directory: Path, tables: list[ExampleTable], truth: dict[str, Any]) -> ExampleSet:
    """Write ``truth.json`` and bundle the result."""
    (directory / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return ExampleSet(directory, tables, truth)


def pick(
    values: list[str] | tuple[str, ...], weights: list[float] | None, n: int, v: Variates
) -> np.ndarray:
    """``n`` draws from ``values`` (uniform, or by ``weights``) as an object array."""
    w = weights if weights is not None else [1.0] * len(values)
    return np.asarray(values, dtype=object)[v.choice(w, n)]


def seed_of(seed: bytes | str) -> bytes:
    """Seed bytes from bytes or text."""
    return seed.encode("utf-8") if isinstance(seed, str) else bytes(seed)
