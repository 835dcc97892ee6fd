"""A dataset's public card: schema, column domains and the privacy unit.

The card is public: analysts read it, mocks are made from it alone, and DP
queries rely on its bounds and categories instead of looking at the data.
It must therefore never be derived from private rows without the owner
choosing to publish those values.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from insitu.errors import InvalidInput, NotFound

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ColumnType(StrEnum):
    """Types a card may declare for a column."""

    INTEGER = "integer"
    FLOAT = "float"
    CATEGORY = "category"  # text with a declared, public set of values
    STRING = "string"  # free text or identifiers; never aggregated directly
    BOOLEAN = "boolean"
    DATE = "date"

    @property
    def numeric(self) -> bool:
        return self in (ColumnType.INTEGER, ColumnType.FLOAT)


class Column(BaseModel):
    """One column of a card.

    Numeric columns may declare ``lower``/``upper`` bounds (required for DP
    sums and means); category columns declare their ``categories``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: ColumnType
    lower: float | None = None
    upper: float | None = None
    categories: list[str] | None = None
    nullable: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> Column:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(
                f"column name {self.name!r} must be letters, digits or _, not starting with a digit"
            )
        if (self.lower is not None or self.upper is not None) and not self.type.numeric:
            raise ValueError(f"column {self.name!r}: bounds are only allowed on numeric columns")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"column {self.name!r}: lower bound {self.lower} > upper {self.upper}")
        if self.type is ColumnType.CATEGORY:
            if not self.categories:
                raise ValueError(f"column {self.name!r}: a category column needs categories")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"column {self.name!r}: categories contain duplicates")
        elif self.categories is not None:
            raise ValueError(
                f"column {self.name!r}: categories are only allowed on category columns"
            )
        return self

    @property
    def bounded(self) -> bool:
        return self.lower is not None and self.upper is not None


class PrivacyUnit(BaseModel):
    """The column that identifies whom the data is about, and its contribution bound."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    max_rows: int = Field(default=1, ge=1)


class Card(BaseModel):
    """The public description of a dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    columns: list[Column]
    privacy_unit: PrivacyUnit | None = None

    @model_validator(mode="after")
    def _check(self) -> Card:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"dataset name {self.name!r} must be letters, digits or _")
        if not self.columns:
            raise ValueError("a card needs at least one column")
        names = [c.name for c in self.columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column names: {', '.join(dupes)}")
        if self.privacy_unit is not None and self.privacy_unit.column not in names:
            raise ValueError(f"privacy unit column {self.privacy_unit.column!r} is not in the card")
        return self

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name``; :class:`NotFound` names the known columns otherwise."""
        for c in self.columns:
            if c.name == name:
                return c
        raise NotFound(
            f"unknown column {name!r} in dataset {self.name!r}; "
            f"known columns: {', '.join(self.column_names)}"
        )

    # -- loading ---------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Any, *, name: str | None = None) -> Card:
        """Validate a parsed card; ``name`` fills in or must match the card's name."""
        if not isinstance(data, dict):
            raise InvalidInput("a card must be a mapping with 'columns'")
        data = dict(data)
        if name is not None:
            if data.get("name") not in (None, name):
                raise InvalidInput(f"card names dataset {data.get('name')!r}, expected {name!r}")
            data["name"] = name
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'card'}: {e['msg']}" for e in exc.errors()
            ]
            raise InvalidInput("invalid card: " + "; ".join(problems), details=problems) from None

    @classmethod
    def from_text(cls, text: str, *, name: str | None = None) -> Card:
        """Parse a card written in YAML or JSON (JSON is valid YAML)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"card is not valid YAML or JSON: {exc}") from None
        return cls.from_mapping(data, name=name)

    @classmethod
    def load(cls, path: str | Path, *, name: str | None = None) -> Card:
        """Read a card file (``.yaml``, ``.yml`` or ``.json``)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read card {p}: {exc}") from None
        return cls.from_text(text, name=name)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
