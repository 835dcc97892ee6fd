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
    buf = bytearray(_CHUNK + 1)  # byte 0: the previous chunk's last byte, for pairs across
    view = memoryview(buf)
    start = last = 1
    with path.open("rb") as f:
        while got := f.readinto(view[1:]):
            end = 1 + got
            if buf.find(b'"', start, end) >= 0 or buf.find(b"\x00", start, end) >= 0:
                return None
            if buf.find(b"\r", start, end) >= 0:
                # A chunk may end between \r and \n: that \r is counted with the next one.
                cut = end - 1 if buf[end - 1] == 0x0D and got == _CHUNK else end
                if buf.count(b"\r", start, cut) != buf.count(b"\r\n", start, cut):
                    return None
                start = 0 if cut < end else 1
            else:
                start = 1
            if not hex_prefix and (buf.find(b"x", 1, end) >= 0 or buf.find(b"X", 1, end) >= 0):
                hex_prefix = buf.find(b"0x", 0, end) >= 0 or buf.find(b"0X", 0, end) >= 0
            last = buf[end - 1]
            buf[0] = last
    if start == 0 or last == 0x0D:
        return None
    return PlainCsv(hex_prefix=hex_prefix)
