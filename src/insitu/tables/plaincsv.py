"""Tell from a CSV's raw bytes whether Arrow's reader splits it exactly as DuckDB's would.

Arrow's CSV reader is faster than DuckDB's on this machine, but the two
differ on quoting (Arrow accepts ``"a"b`` as ``ab``), on a lone carriage
return and on NUL bytes. A file with none of those (no ``"`` at all, no NUL,
every ``\\r`` followed by ``\\n``) is split into the same records and fields
by both, so the fast path may read it; any other file goes to the DuckDB
path. (Blank lines are handled by the fast path itself: it reads them as
rows of the wrong width and hands the file over.) The scan is a few
``memchr``-speed passes per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 24


@dataclass(frozen=True)
class PlainCsv:
    """A CSV without quotes, NUL bytes or lone carriage returns.

    ``hex_prefix`` says whether ``0x``/``0X`` occurs anywhere: Arrow's integer
    parser reads ``0x10`` as 16, so integer columns of such a file are read as
    text and checked.
    """

    hex_prefix: bool


def scan_plain(path: Path) -> PlainCsv | None:
    """The file's :class:`PlainCsv` facts, or ``None`` when it needs the DuckDB reader."""
    hex_prefix = False
    edge = b""  # the last byte of the previous chunk, for patterns across the boundary
    with path.open("rb") as f:
        while new := f.read(_CHUNK):
            body = edge + new
            if b'"' in body or b"\x00" in body:
                return None
            if b"\r" in body:
                # A chunk may end between \r and \n: that \r is checked again with the next one.
                cut = body[:-1] if body.endswith(b"\r") and len(new) == _CHUNK else body
                if cut.count(b"\r") != cut.count(b"\r\n"):
                    return None
            if not hex_prefix and (b"x" in body or b"X" in body):
                hex_prefix = b"0x" in body or b"0X" in body
            edge = body[-1:]
    if edge == b"\r":
        return None
    return PlainCsv(hex_prefix=hex_prefix)
