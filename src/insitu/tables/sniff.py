"""Recognise an uploaded table file: Parquet or CSV, and the CSV's header and delimiter.

Checks here are cheap and read only the first block and the end of the
file, so that garbage is refused with a clear message before DuckDB sees it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from insitu.errors import InvalidInput

PARQUET_MAGIC = b"PAR1"
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16

Format = Literal["csv", "parquet"]


@dataclass(frozen=True)
class CsvLayout:
    """The dialect and header of a CSV file."""

    delimiter: str
    names: list[str]


def detect_format(path: Path) -> Format:
    """``"parquet"`` or ``"csv"`` from the file's content (the extension only breaks ties).

    Raises
    ------
    InvalidInput
        The file is missing, empty, a truncated Parquet file, or binary data
        that is not Parquet.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
            f.seek(max(0, size - 4))
            tail = f.read(4)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if size == 0:
        raise InvalidInput(f"{path.name} is empty")
    if head.startswith(PARQUET_MAGIC):
        if size < 12 or tail != PARQUET_MAGIC:
            raise InvalidInput(f"{path.name} is not a complete Parquet file (truncated?)")
        return "parquet"
    if path.suffix.lower() == ".parquet":
        raise InvalidInput(f"{path.name} is named .parquet but is not a Parquet file")
    _check_text(path.name, head, complete=size <= _SNIFF_BYTES)
    return "csv"


def _check_text(name: str, head: bytes, *, complete: bool) -> None:
    if b"\x00" in head:
        raise InvalidInput(f"{name} is binary data, not CSV text or Parquet")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the end of the block is fine.
        if complete or exc.start < len(head) - 3:
            raise InvalidInput(
                f"{name} is not UTF-8 text (invalid byte at offset {exc.start}); "
                "save the CSV as UTF-8"
            ) from None


def read_csv_layout(path: Path) -> CsvLayout:
    """The delimiter and column names from the header line of a CSV file.

    The delimiter is whichever of ``, ; TAB |`` occurs most often in the
    header line (outside quotes); a one-column file uses a comma.
    """
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    first = _first_record(text)
    if not first.strip():
        raise InvalidInput(f"{path.name} has no header line")
    unquoted = _outside_quotes(first)
    delimiter = max(DELIMITERS, key=unquoted.count)
    if unquoted.count(delimiter) == 0:
        delimiter = ","
    try:
        names = next(csv.reader(io.StringIO(first), delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration) as exc:
        raise InvalidInput(f"{path.name}: cannot parse the header line: {exc}") from None
    names = [n.strip() for n in names]
    if any(not n for n in names):
        raise InvalidInput(f"{path.name}: the header has an empty column name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InvalidInput(f"{path.name}: the header repeats column(s) {', '.join(dupes)}")
    return CsvLayout(delimiter, names)


def _first_record(text: str) -> str:
    """The first line, extended over newlines that sit inside double quotes."""
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            return text[:i]
    return text


def _outside_quotes(line: str) -> str:
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            out.append(ch)
    return "".join(out)
