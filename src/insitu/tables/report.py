"""What an ingest found: the card violations report and the success report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Why a row or the file breaks the card."""

    MISSING_COLUMN = "missing_column"
    UNKNOWN_COLUMN = "unknown_column"
    WRONG_TYPE = "wrong_type"
    NULL = "null_in_non_nullable_column"
    OUT_OF_BOUNDS = "out_of_bounds"
    NOT_A_CATEGORY = "not_a_declared_category"
    NOT_A_NUMBER = "not_a_number"
    TOO_MANY_ROWS_PER_UNIT = "too_many_rows_per_privacy_unit"


@dataclass(frozen=True)
class Problem:
    """One rule of the card, broken ``count`` times (rows, or units for the unit bound)."""

    column: str
    kind: Kind
    rule: str
    count: int


@dataclass(frozen=True)
class Example:
    """One offending cell: 1-based data row (header not counted), column, reason, raw value.

    ``value`` is the private value as read from the file; it is ``None`` when
    the caller asked not to report values.
    """

    row: int | None
    column: str
    kind: Kind
    value: str | None = None


@dataclass(frozen=True)
class ViolationReport:
    """Everything that breaks the card, with the first offending cells."""

    dataset: str
    rows_checked: int
    violating_rows: int
    problems: list[Problem] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """A one-paragraph summary naming rules and row numbers, never values."""
        head = (
            f"{self.violating_rows} of {self.rows_checked} rows break the card of "
            f"dataset {self.dataset!r}"
            if self.violating_rows
            else f"the data breaks the card of dataset {self.dataset!r}"
        )
        parts = []
        for p in self.problems:
            rows = [e.row for e in self.examples if e.column == p.column and e.kind is p.kind]
            shown = ", ".join(str(r) for r in rows[:5] if r is not None)
            where = f" (first rows: {shown})" if shown else ""
            unit = "unit" if p.kind is Kind.TOO_MANY_ROWS_PER_UNIT else "row"
            plural = "" if p.count == 1 else "s"
            count = f"{p.count} {unit}{plural}: " if p.kind not in _FILE_LEVEL else ""
            parts.append(f"{count}column {p.column!r} {p.rule}{where}")
        return head + ": " + "; ".join(parts)

    def to_details(self) -> dict[str, Any]:
        """JSON-ready details for :class:`insitu.errors.CardViolation`."""
        return {
            "dataset": self.dataset,
            "rows_checked": self.rows_checked,
            "violating_rows": self.violating_rows,
            "problems": [asdict(p) | {"kind": str(p.kind)} for p in self.problems],
            "examples": [asdict(e) | {"kind": str(e.kind)} for e in self.examples],
        }


_FILE_LEVEL = (Kind.MISSING_COLUMN, Kind.UNKNOWN_COLUMN)


@dataclass(frozen=True)
class IngestReport:
    """A registered table: where it is, its size and content hash, and how long it took.

    ``sha256`` is the hex SHA-256 of the Parquet file's bytes, so receipts can
    name exactly which table a result was computed from.
    """

    path: str
    rows: int
    bytes: int
    sha256: str
    seconds: float
    source_format: str
    columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
