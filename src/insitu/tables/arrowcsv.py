"""The fast CSV path: parse a plain CSV with Arrow block by block, check each, write Parquet.

:func:`insitu.tables.plaincsv.plain_blocks` cuts the file into blocks of
whole lines and refuses any block Arrow might split differently from
DuckDB (quotes, NUL, lone carriage returns). Each block is parsed by
Arrow's multi-threaded reader straight into the card's types, where Arrow's
converters are exact and no more lenient than the DuckDB path (integers
without sign ``+``, ``3.0`` or ``0x``; ``YYYY-MM-DD`` dates;
``true``/``false`` booleans; categories as a dictionary), in a side thread
that runs up to two blocks ahead. The caller's thread checks every block with
vectorised kernels (nulls, bounds, finiteness, declared categories) and
writes it as one Parquet row group. The first cell that does not parse or
breaks a rule ends the fast path with ``None``: the caller removes the
partial file and runs the DuckDB path, which accepts the lenient forms this
path refuses (``+5``, ``2020-1-2``…) and counts and locates every violation,
so reports do not depend on which path ran. Memory stays at a few blocks of
:data:`BLOCK_BYTES`.
"""

from __future__ import annotations

import functools
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
from insitu.tables.plaincsv import NotPlain, plain_blocks
from insitu.tables.prefetch import prefetch
from insitu.tables.units import SORT_MAX_ROWS

#: Bytes of CSV text per block; a block is one Parquet row group (of at most 1 Mi rows).
BLOCK_BYTES = 8 << 20
#: Bytes of a block that one of Arrow's threads parses on its own.
PART_BYTES = 4 << 20

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
_TEXT = (ColumnType.CATEGORY, ColumnType.STRING)
_ENCODINGS = {
    ColumnType.INTEGER: "DELTA_BINARY_PACKED",
    ColumnType.DATE: "DELTA_BINARY_PACKED",
    ColumnType.FLOAT: "BYTE_STREAM_SPLIT",
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
    metadata: dict[str, str],
    threads: int | None,
    report: Callable[[float], None],
) -> Written | None:
    """Write ``source`` checked against ``card`` to ``dest``; ``None`` if the fast path can't.

    ``names`` are the header's column names in file order (already matched
    to the card). ``report`` gets the fraction of the file done. Returns
    the rows written; ``None`` leaves a partial ``dest`` for the caller to
    remove. With ``threads=1`` everything runs in the calling thread;
    otherwise a side thread reads up to two blocks ahead, Arrow parsing
    each block's parts on all cores, while the caller checks and writes.

    Blank lines are read as one-field rows, which breaks the width of a file
    with two or more columns and hands it to the DuckDB path; a one-column
    file (where a blank line would be a cell) goes there straight away.
    """
    if len(names) < 2:
        return None
    schema = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in card.columns])
    total = max(1, source.stat().st_size)
    rows = 0
    unit = card.privacy_unit.column if card.privacy_unit is not None else None
    ids: list[np.ndarray] | None = (
        [] if unit is not None and card.column(unit).type is ColumnType.INTEGER else None
    )
    parsed = _parsed(source, card, names, delimiter, threads=threads)
    try:
        with _parquet_writer(dest, card, schema) as writer:
            tables = parsed if threads == 1 else prefetch(parsed, depth=2)
            # On a refusal: stop the read-ahead thread, then close the file.
            with closing(parsed), closing(tables):
                for table, offset in tables:
                    batches = [
                        pa.record_batch(
                            [_checked(c, b.column(c.name)) for c in card.columns], schema=schema
                        )
                        for b in table.to_batches()
                    ]
                    writer.write_table(pa.Table.from_batches(batches, schema=schema))
                    rows += table.num_rows
                    if ids is not None and rows <= SORT_MAX_ROWS:
                        ids.extend(
                            _numbers(pc.drop_null(b.column(unit)), np.int64) for b in batches
                        )
                    else:
                        ids = None
                    report(offset / total)
            writer.add_key_value_metadata(metadata)
    except (pa.ArrowException, _Refused, NotPlain):
        return None
    if not rows:
        return None
    return Written(rows, None if ids is None else np.concatenate(ids or [np.zeros(0, np.int64)]))


def _parsed(
    source: Path, card: Card, names: list[str], delimiter: str, *, threads: int | None
) -> Generator[tuple[pa.Table, int], None, None]:
    """Each block of ``source`` parsed into the card's types, with the file offset after it.

    Integer columns of a block holding ``0x`` are read as text, so that
    :func:`_checked` refuses the prefix instead of Arrow reading it as hex.
    Only string columns need Arrow's UTF-8 check: a category cell that is
    not UTF-8 equals no declared category (those are), so it is refused
    anyway, and integer text that is not UTF-8 does not cast.
    """
    utf8 = any(c.type is ColumnType.STRING for c in card.columns)
    options = {
        hex_prefix: pacsv.ConvertOptions(
            column_types={
                c.name: pa.string()
                if hex_prefix and c.type is ColumnType.INTEGER
                else _ARROW_TYPES[c.type]
                for c in card.columns
            },
            null_values=[""],
            strings_can_be_null=True,
            true_values=_TRUE,
            false_values=_FALSE,
            check_utf8=utf8,
        )
        for hex_prefix in (False, True)
    }
    parse = pacsv.ParseOptions(delimiter=delimiter, quote_char=False, ignore_empty_lines=False)
    for n, block in enumerate(plain_blocks(source, BLOCK_BYTES)):
        read = pacsv.ReadOptions(
            use_threads=threads != 1,
            block_size=PART_BYTES,
            column_names=names,
            skip_rows=0 if n else 1,
        )
        text = pa.py_buffer(block.data).slice(0, block.size)
        table = pacsv.read_csv(
            pa.BufferReader(text),
            memory_pool=_memory_pool(),
            read_options=read,
            parse_options=parse,
            convert_options=options[block.hex_prefix],
        )
        yield table, block.end


def _parquet_writer(dest: Path, card: Card, schema: pa.Schema) -> pq.ParquetWriter:
    """Arrow's Parquet writer, set for cheap encoding of the card's column types.

    zstd throughout; the dictionary only for low-cardinality columns (see
    :func:`_few_values`); floats split into byte streams, which zstd
    compresses in half the time it takes on plain floats. Min/max statistics
    are written for numbers, dates and booleans, where readers skip row
    groups by them, and not for text: there they cost a pass over every
    cell (for categories, finding the distinct indices) and, in a table not
    sorted by that column, let no reader skip anything.
    """
    return pq.ParquetWriter(
        dest,
        schema,
        memory_pool=_memory_pool(),
        compression="zstd",
        store_schema=False,
        write_page_index=False,
        use_dictionary=[c.name for c in card.columns if _few_values(c)],
        write_statistics=[c.name for c in card.columns if c.type not in _TEXT],
        column_encoding={
            c.name: _ENCODINGS[c.type]
            for c in card.columns
            if c.type in _ENCODINGS and not _few_values(c)
        },
    )


@functools.cache
def _memory_pool() -> pa.MemoryPool:
    """Arrow's jemalloc pool where this pyarrow build has it, else the default pool.

    Each block gets fresh column and page buffers. jemalloc keeps the pages
    that the blocks before freed and hands them out again; the default
    (mimalloc) pool returns them to the system, and the kernel then zeroes
    every page again on first touch: about 0.3 s of CPU on a 10-million-row
    file.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


def _few_values(col: Column) -> bool:
    """Whether a column likely has few distinct values, so Parquet's dictionary pays off.

    Other columns skip the dictionary attempt (which costs a hash per cell
    before Parquet gives up on it); their integers and dates are written as
    deltas, which suits ids and dates and is cheap to encode, and their
    floats as byte streams.
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
        mapped = np.take(_numbers(position, np.int32), _numbers(values.indices, np.int32))
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
