"""Cut a CSV into blocks of whole lines, checking each that Arrow splits it as DuckDB would.

Arrow's CSV reader is faster than DuckDB's on this machine, but the two
differ on quoting (Arrow accepts ``"a"b`` as ``ab``), on a lone carriage
return and on NUL bytes. A file with none of those (no ``"`` at all, no NUL,
every ``\\r`` followed by ``\\n``) is split into the same records and fields
by both, so the fast path may read it; any other file goes to the DuckDB
path. (Blank lines are handled by the fast path itself: it reads them as
rows of the wrong width and hands the file over.)

:func:`plain_blocks` reads the file once, in blocks that end at a line
break, so that the blocks can be parsed independently (there are no quotes,
so a line break always ends a record). Each block is checked on its way to
the parser with a few ``memchr``-speed passes and no copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_BOM = b"\xef\xbb\xbf"


class NotPlain(Exception):
    """The file has bytes the fast path cannot take (see :func:`plain_blocks`)."""


@dataclass(frozen=True)
class Block:
    """Whole lines of a plain CSV: ``data[:size]``.

    ``hex_prefix`` says whether ``0x``/``0X`` occurs in it: Arrow's integer
    parser reads ``0x10`` as 16, so integer columns of such a block must be
    read as text and checked. ``end`` is the file offset just after the block.
    """

    data: bytearray
    size: int
    hex_prefix: bool
    end: int


def plain_blocks(path: Path, size: int) -> Iterator[Block]:
    """The file in blocks of whole lines of about ``size`` bytes (more for a longer line).

    The blocks share one buffer: a block's ``data`` is valid until the next
    block is asked for.

    Raises
    ------
    NotPlain
        At the first block holding a quote, a NUL or a lone carriage return,
        or starting (after the first) with a UTF-8 byte-order mark; blocks
        before it have been yielded.
    """
    buf = bytearray()
    rest = b""
    offset = 0
    with path.open("rb") as f:
        while True:
            want = len(rest) + max(size, len(rest))
            if len(buf) < want:
                buf = bytearray(want)
            buf[: len(rest)] = rest
            got = f.readinto(memoryview(buf)[len(rest) : want])
            end = len(rest) + got
            if not got:  # end of file: what is left is the last line, without its line break
                if end:
                    yield _checked(buf, end, offset, offset + end)
                return
            cut = buf.rfind(b"\n", 0, end) + 1
            rest = bytes(memoryview(buf)[cut:end])
            if cut:
                yield _checked(buf, cut, offset, offset + cut)
                offset += cut


def _checked(buf: bytearray, end: int, start: int, stop: int) -> Block:
    """``buf[:end]``, the file's bytes from ``start`` to ``stop``, as a block if plain."""
    if buf.find(b'"', 0, end) >= 0 or buf.find(b"\x00", 0, end) >= 0:
        raise NotPlain
    # Arrow drops a byte-order mark at the start of what it parses; only the file's is one.
    if start and buf.startswith(_BOM):
        raise NotPlain
    # Every block but the last ends with \n, so a \r at its end is a lone one.
    if buf.find(b"\r", 0, end) >= 0 and buf.count(b"\r", 0, end) != buf.count(b"\r\n", 0, end):
        raise NotPlain
    # Looking for the letter first is much faster than for the pair in a file of digits.
    hex_prefix = (buf.find(b"x", 0, end) >= 0 and buf.find(b"0x", 0, end) >= 0) or (
        buf.find(b"X", 0, end) >= 0 and buf.find(b"0X", 0, end) >= 0
    )
    return Block(buf, end, hex_prefix, stop)
