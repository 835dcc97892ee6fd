"""DuckDB connections with bounded memory, and SQL quoting for names and values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

DEFAULT_MEMORY_LIMIT = "1GB"


def default_threads() -> int:
    """Threads for one ingest: the machine's cores, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def connect(
    *,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    temp_directory: Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that spills to ``temp_directory`` past ``memory_limit``.

    Insertion order is preserved, so rows come out in the order of the file
    they were read from. DuckDB is imported here, on first use: the Arrow
    ingest path does not need it.
    """
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "threads": threads or default_threads(),
        "preserve_insertion_order": True,
    }
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(":memory:", config=config)
    # DuckDB draws a progress bar on the terminal for long queries; never in a server log.
    con.execute("SET enable_progress_bar_print = false")
    return con


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str | Path) -> str:
    """A quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def number(value: float) -> str:
    """A SQL numeric literal for a finite bound."""
    if float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(float(value))
