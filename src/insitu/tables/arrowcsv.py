"""The fast CSV path: stream a plain CSV through Arrow's reader, check each batch, write Parquet.

Only files that :func:`insitu.tables.plaincsv.scan_plain` finds plain come
here. Each column is parsed straight into the card's type with Arrow's
converters where they are exact and no more lenient than the DuckDB path
(integers without sign ``+``, ``3.0`` or ``0x``; ``YYYY-MM-DD`` dates;
``true``/``false`` booleans; categories as a dictionary). Every batch is then
checked with vectorised kernels: nulls, bounds, finiteness, declared
categories. The first cell that does not parse or breaks a rule ends the
fast path with ``None``: the caller removes the partial file and runs the
DuckDB path, which accepts the lenient forms this path refuses (``+5``,
``2020-1-2``…) and counts and locates every violation, so reports do not
depend on which path ran. Memory stays at a few blocks of ``BLOCK_BYTES``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from insitu.tables.card import Card, Column, ColumnType
from insitu.tables.prefetch import prefetch
from insitu.tables.units import SORT_MAX_ROWS

#: Bytes of CSV text per batch.
BLOCK_BYTES = 8 << 20

_FEW = 1 << 16
_TRUE = ["true", "True", "TRUE"]
_FALSE = ["false", "False", "FALSE"]
_CATEGORY = pa.dictionary(pa.int32(), pa.string())
_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.INTEGER: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.CATEGORY: _CATEGORY,
    ColumnType.STRING: pa.string(),
    ColumnType.BOOLEAN: pa.bool_(),
    ColumnType.DATE: pa.date32(),
}


@dataclass(frozen=True)
class Written:
    """What the fast path wrote: its rows, and the integer privacy-unit ids when it kept them.

    ``unit_ids`` (NULLs left out) is ``None`` when the unit column is not an
    integer, the card has no privacy unit, or there were more than
    :data:`insitu.tables.units.SORT_MAX_ROWS` rows.
    """

    rows: int
    unit_ids: np.ndarray | None


class _Refused(Exception):
    """A cell the fast path does not take; the DuckDB path decides."""


def write_plain_csv(
    source: Path,
    card: Card,
    dest: Path,
    *,
    names: list[str],
    delimiter: str,
    hex_prefix: bool,
    metadata: dict[str, str],
    threads: int | None,
    report: Callable[[float], None],
) -> Written | None:
    """Write ``source`` checked against ``card`` to ``dest``; ``None`` if the fast path can't.

    ``names`` are the header's column names in file order (already matched
    to the card); ``hex_prefix`` makes integer columns be read as text and
    refused when they hold ``0x``. ``report`` gets the fraction of the file
    done. Returns the rows written; ``None`` leaves a partial ``dest``
    for the caller to remove.

    Blank lines are read as one-field rows, which breaks the width of a file
    with two or more columns and hands it to the DuckDB path; a one-column
    file (where a blank line would be a cell) goes there straight away.
    """
    if len(names) < 2:
        return None
    read_types = {
        c.name: pa.string() if hex_prefix and c.type is ColumnType.INTEGER else _ARROW_TYPES[c.type]
        for c in card.columns
    }
    schema = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in card.columns])
    total = max(1, source.stat().st_size)
    rows = 0
    unit = card.privacy_unit.column if card.privacy_unit is not None else None
    ids: list[np.ndarray] | None = (
        [] if unit is not None and card.column(unit).type is ColumnType.INTEGER else None
    )
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                use_threads=False, block_size=BLOCK_BYTES, column_names=names, skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, quote_char=False, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=read_types,
                null_values=[""],
                strings_can_be_null=True,
                true_values=_TRUE,
                false_values=_FALSE,
            ),
        )
        with pq.ParquetWriter(
            dest,
            schema,
            compression="zstd",
            store_schema=False,
            write_page_index=False,
            use_dictionary=[c.name for c in card.columns if _few_values(c)],
            column_encoding={
                c.name: "DELTA_BINARY_PACKED"
                for c in card.columns
                if c.type in (ColumnType.INTEGER, ColumnType.DATE) and not _few_values(c)
            },
        ) as writer:
            batches: Generator[pa.RecordBatch, None, None] = (
                (b for b in reader) if threads == 1 else prefetch(reader)
            )
            with closing(batches):  # stops the read-ahead thread on a refusal
                for n, batch in enumerate(batches):
                    arrays = [_checked(c, batch.column(c.name)) for c in card.columns]
                    writer.write_batch(pa.record_batch(arrays, schema=schema))
                    rows += batch.num_rows
                    if ids is not None and rows <= SORT_MAX_ROWS:
                        kept = arrays[schema.get_field_index(str(unit))]
                        ids.append(_numbers(pc.drop_null(kept), np.int64))
                    else:
                        ids = None
                    report(min(1.0, (n + 1) * BLOCK_BYTES / total))
            writer.add_key_value_metadata(metadata)
    except (pa.ArrowException, _Refused):
        return None
    if not rows:
        return None
    return Written(rows, None if ids is None else np.concatenate(ids or [np.zeros(0, np.int64)]))


def _few_values(col: Column) -> bool:
    """Whether a column likely has few distinct values, so Parquet's dictionary pays off.

    Other columns skip the dictionary attempt (which costs a hash per cell
    before Parquet gives up on it); their integers and dates are written as
    deltas, which suits ids and dates and is cheap to encode.
    """
    if col.type in (ColumnType.CATEGORY, ColumnType.BOOLEAN, ColumnType.STRING):
        return True
    if col.type is ColumnType.INTEGER and col.lower is not None and col.upper is not None:
        return col.upper - col.lower <= _FEW
    return False


def _checked(col: Column, values: pa.Array) -> pa.Array:
    """``values`` in the card's type, or :class:`_Refused` if one cell breaks a rule."""
    if values.null_count and not col.nullable:
        raise _Refused
    if col.type is ColumnType.CATEGORY:
        return _declared(col, values)
    if col.type is ColumnType.INTEGER and values.type == pa.string():
        if pc.any(pc.match_substring(values, "x", ignore_case=True)).as_py():
            raise _Refused
        values = pc.cast(values, pa.int64())
    if col.type is ColumnType.FLOAT:
        finite = pc.sum(pc.is_finite(values)).as_py() or 0
        if finite != len(values) - values.null_count:
            raise _Refused
    if col.type.numeric and (col.lower is not None or col.upper is not None):
        low_high = pc.min_max(values)
        low, high = low_high["min"].as_py(), low_high["max"].as_py()
        if low is not None and col.lower is not None and low < col.lower:
            raise _Refused
        if high is not None and col.upper is not None and high > col.upper:
            raise _Refused
    return values


def _declared(col: Column, values: pa.Array) -> pa.Array:
    """A category column over the card's categories as one fixed dictionary.

    Each batch's own dictionary is mapped onto the declared values; a value
    that is not declared refuses the batch. A fixed dictionary also lets the
    Parquet writer skip hashing every cell.
    """
    assert col.categories is not None
    declared = _strings(col.categories)
    if not isinstance(values, pa.DictionaryArray):
        raise _Refused
    position = pc.index_in(values.dictionary, value_set=declared)
    if position.null_count:
        raise _Refused
    if values.indices.null_count:
        indices = pc.take(position, values.indices)
    else:
        mapped = _numbers(position, np.int32)[_numbers(values.indices, np.int32)]
        indices = pa.Array.from_buffers(pa.int32(), len(mapped), [None, pa.py_buffer(mapped)])
    # Every index points into ``declared``: checked above.
    return pa.DictionaryArray.from_arrays(indices, declared, safe=False)


def _strings(values: list[str]) -> pa.Array:
    """An Arrow string array, built from buffers (``pa.array`` would import pandas)."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.cumsum([0] + [len(d) for d in data], dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _numbers(values: pa.Array, dtype: type[np.int32] | type[np.int64]) -> np.ndarray:
    """A view of a null-free integer array's values (``to_numpy`` would import pandas)."""
    size = np.dtype(dtype).itemsize
    buffer = values.buffers()[1]
    assert values.null_count == 0 and values.type.bit_width == 8 * size and buffer is not None
    return np.frombuffer(buffer, dtype=dtype, count=len(values), offset=values.offset * size)
