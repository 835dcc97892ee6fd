"""Chunked, bounded-memory readers of CSV and Parquet tables (or in-memory tables)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from insitu.errors import InvalidInput

#: A table to stream: a CSV or Parquet path, or a pyarrow Table / pandas DataFrame.
Source: TypeAlias = Any


def _as_table(source: Any) -> pa.Table | None:
    if isinstance(source, pa.Table):
        return source
    if type(source).__name__ == "DataFrame":
        return pa.Table.from_pandas(source, preserve_index=False)
    return None


def _path(source: Any) -> Path:
    if not isinstance(source, str | Path):
        raise TypeError("source must be a path, a pyarrow Table or a pandas DataFrame")
    path = Path(source)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidInput(f"unsupported table format {path.suffix!r}; use .csv or .parquet")
    if not path.is_file():
        raise InvalidInput(f"no such table file: {path}")
    return path


def _csv_options(columns: Sequence[str]) -> pacsv.ConvertOptions:
    # Keys stay text: "007" and "7" are different keys.
    return pacsv.ConvertOptions(
        include_columns=list(columns), column_types={c: pa.string() for c in columns}
    )


def iter_batches(source: Source, columns: Sequence[str], *, rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``rows`` rows holding ``columns``, read lazily."""
    if rows < 1:
        raise InvalidInput("rows per chunk must be positive")
    table = _as_table(source)
    if table is not None:
        _check_columns(table.schema.names, columns)
        yield from table.select(list(columns)).to_batches(max_chunksize=rows)
        return
    path = _path(source)
    if path.suffix.lower() == ".csv":
        names = pacsv.open_csv(path).schema.names
        _check_columns(names, columns)
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            convert_options=_csv_options(columns),
        )
        for batch in reader:
            for start in range(0, batch.num_rows, rows):
                yield batch.slice(start, rows)
        return
    parquet = pq.ParquetFile(path)
    _check_columns(parquet.schema_arrow.names, columns)
    yield from parquet.iter_batches(batch_size=rows, columns=list(columns))


def count_rows(source: Source) -> int:
    """Number of rows (Parquet: from metadata; CSV: one streaming pass)."""
    table = _as_table(source)
    if table is not None:
        return int(table.num_rows)
    path = _path(source)
    if path.suffix.lower() == ".csv":
        return sum(batch.num_rows for batch in pacsv.open_csv(path))
    return int(pq.ParquetFile(path).metadata.num_rows)


def _check_columns(names: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InvalidInput(f"table lacks columns {missing}")


__all__ = ["Source", "count_rows", "iter_batches"]
