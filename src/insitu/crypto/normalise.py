"""Declared normalisation of join keys (trim, case-fold, NFKC, dates) into canonical bytes.

Two parties that join on a key must map the same real-world value to the same
bytes, or the match is silently missed. Each party applies the same declared
:class:`KeyNormaliser`; several columns are joined without ambiguity by a
length prefix per column, so ``("ab", "c")`` and ``("a", "bc")`` differ.
"""

from __future__ import annotations

import datetime as _dt
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from insitu.errors import InvalidInput

MAX_KEY_BYTES = 1 << 16


@dataclass(frozen=True)
class KeyNormaliser:
    """How each key column is turned into text before hashing.

    Parameters
    ----------
    columns:
        Names of the key columns, in the order both parties use.
    trim:
        Strip leading and trailing white space and collapse inner runs to one space.
    casefold:
        Apply Unicode case folding (``str.casefold``).
    nfkc:
        Apply Unicode NFKC normalisation (compatibility forms, e.g. full-width digits).
    date_formats:
        Per column, ``strptime`` formats tried in order; a value that parses is
        rewritten as an ISO date ``YYYY-MM-DD``; one that matches no format is an
        :class:`InvalidInput`. Columns without an entry are left as text.
    """

    columns: tuple[str, ...]
    trim: bool = True
    casefold: bool = False
    nfkc: bool = True
    date_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.columns:
            raise InvalidInput("a key needs at least one column")
        if len(set(self.columns)) != len(self.columns):
            raise InvalidInput("key columns must be distinct")
        unknown = set(self.date_formats) - set(self.columns)
        if unknown:
            raise InvalidInput(f"date formats for non-key columns: {sorted(unknown)}")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, for a collaboration spec both parties sign."""
        return {
            "columns": list(self.columns),
            "trim": self.trim,
            "casefold": self.casefold,
            "nfkc": self.nfkc,
            "date_formats": {k: list(v) for k, v in sorted(self.date_formats.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> KeyNormaliser:
        """Inverse of :meth:`to_dict`."""
        columns = data.get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise InvalidInput("columns must be a list of names")
        formats = data.get("date_formats", {})
        if not isinstance(formats, dict):
            raise InvalidInput("date_formats must be a mapping")
        return cls(
            columns=tuple(columns),
            trim=bool(data.get("trim", True)),
            casefold=bool(data.get("casefold", False)),
            nfkc=bool(data.get("nfkc", True)),
            date_formats={str(k): tuple(v) for k, v in formats.items()},
        )

    def text(self, column: str, value: object) -> str:
        """Normalised text of one key value."""
        if value is None:
            raise InvalidInput(f"missing value in key column {column!r}")
        if isinstance(value, _dt.datetime):
            value = value.date()
        if isinstance(value, _dt.date):
            text = value.isoformat()
        elif isinstance(value, bytes):
            raise TypeError("key values must be text, numbers or dates, not bytes")
        else:
            text = str(value)
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.trim:
            text = " ".join(text.split())
        if self.casefold:
            text = text.casefold()
        formats = self.date_formats.get(column)
        if formats and not isinstance(value, _dt.date):
            text = _parse_date(column, text, formats)
        return text

    def key(self, values: Sequence[object]) -> bytes:
        """Canonical bytes of one record's key (one value per column, in order)."""
        if len(values) != len(self.columns):
            raise InvalidInput(f"expected {len(self.columns)} key values, got {len(values)}")
        out = bytearray()
        for column, value in zip(self.columns, values, strict=True):
            encoded = self.text(column, value).encode("utf-8")
            out += len(encoded).to_bytes(4, "big") + encoded
        if len(out) > MAX_KEY_BYTES:
            raise InvalidInput(f"key longer than {MAX_KEY_BYTES} bytes")
        return bytes(out)

    def keys(self, rows: Iterable[Sequence[object]]) -> list[bytes]:
        """Canonical bytes of many records' keys."""
        return [self.key(row) for row in rows]


def _parse_date(column: str, text: str, formats: tuple[str, ...]) -> str:
    for fmt in formats:
        try:
            return _dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise InvalidInput(f"value in {column!r} matches none of the declared date formats")


__all__ = ["MAX_KEY_BYTES", "KeyNormaliser"]
