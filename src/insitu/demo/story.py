"""Printing the demo: who does what, and what each party sees."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

console = Console()

COLOURS = {"owner": "green", "analyst": "cyan", "auditor": "magenta", "node": "yellow"}


def chapter(title: str, text: str = "") -> None:
    console.rule(f"[bold]{title}")
    if text:
        console.print(text, style="dim")


def says(party: str, text: str, *, role: str = "node") -> None:
    colour = COLOURS.get(role, "white")
    console.print(f"[bold {colour}]{party}[/] {text}")


def sees(party: str, value: Any, *, role: str = "analyst", title: str = "") -> None:
    """Show exactly what ``party`` received."""
    colour = COLOURS.get(role, "white")
    heading = f"[{colour}]{party} sees[/]" + (f": {title}" if title else "")
    if isinstance(value, pd.DataFrame):
        console.print(Panel(frame_table(value), title=heading, expand=False))
    else:
        console.print(Panel(str(value), title=heading, expand=False))


def code(party: str, source: str, *, role: str = "owner") -> None:
    colour = COLOURS.get(role, "white")
    console.print(
        Panel(
            Syntax(source.strip(), "python"),
            title=f"[{colour}]{party} sees the exact source",
            expand=False,
        )
    )


def frame_table(frame: pd.DataFrame, *, max_rows: int = 12) -> Table:
    table = Table(show_edge=False)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row))
    if len(frame) > max_rows:
        table.add_row(*("…" for _ in frame.columns))
    return table
