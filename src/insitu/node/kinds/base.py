"""What every kind of request (custom code, DP query, collaboration part) provides."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insitu.node.store.records import Request
from insitu.tables.card import Card


@dataclass(frozen=True)
class Prepared:
    """A checked request, ready to store: what it reads, what it may cost."""

    datasets: list[str]
    payload: dict[str, Any]
    cost: dict[str, Any] | None = None
    output_checking: bool = True


@dataclass(frozen=True)
class Output:
    """What a run produced, before release.

    ``notes`` go into the public receipt: they MUST NOT hold private values
    (no printed output of custom code, no true counts).
    """

    data: bytes
    media_type: str
    cost: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class DatasetAccess(ABC):
    """How a kind reaches the datasets it was approved for, and nothing else."""

    @abstractmethod
    def card(self, name: str) -> Card: ...

    @abstractmethod
    def path(self, name: str) -> Path: ...

    @abstractmethod
    def mock_path(self, name: str, *, rows: int) -> Path: ...

    @abstractmethod
    def prepared_path(self, name: str) -> Path:
        """The dataset bounded per privacy unit and encoded for DP queries (made once)."""


class RequestKind(ABC):
    """One kind of request. ``prepare`` checks input; ``run`` computes on private data."""

    name: str

    @abstractmethod
    def prepare(self, payload: dict[str, Any], data: DatasetAccess) -> Prepared:
        """Validate ``payload`` against the cards; raise ``InvalidInput`` subclasses."""

    @abstractmethod
    def run(self, request: Request, data: DatasetAccess, workdir: Path) -> Output:
        """Compute the result; raise ``ExecutionFailed`` when it fails."""

    def preview(self, request: Request, data: DatasetAccess, workdir: Path) -> Output:
        """Run on mock tables (for the owner's review). Default: not supported."""
        from insitu.errors import Conflict

        raise Conflict(f"{self.name} requests cannot be previewed on mock data")
