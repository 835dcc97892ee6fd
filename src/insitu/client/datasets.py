"""Datasets: register a file with its card (streamed upload), list them, read cards and mocks."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from insitu.client import queries
from insitu.client.records import Listing, html_table
from insitu.client.transport import Transport
from insitu.errors import InvalidInput
from insitu.tables.card import Card

if TYPE_CHECKING:
    import pandas as pd

#: Bytes read and sent per chunk when uploading.
CHUNK = 1 << 20
#: Files at least this large get a progress bar when ``progress`` is left at ``None``.
AUTO_PROGRESS_BYTES = 16 << 20
#: Seconds an upload may take at most (large files on slow links).
UPLOAD_TIMEOUT = 3600.0

#: Called as ``progress(sent_bytes, total_bytes)`` while a file uploads.
ProgressFn = Callable[[int, int], None]

CardLike = Card | dict[str, Any] | str | Path


def load_card(card: CardLike, *, name: str) -> Card:
    """A :class:`Card` from a ``Card``, a mapping, or a YAML/JSON file path; named ``name``."""
    if isinstance(card, Card):
        return Card.from_mapping(card.to_dict(), name=name)
    if isinstance(card, dict):
        return Card.from_mapping(card, name=name)
    if isinstance(card, str | Path):
        return Card.load(card, name=name)
    raise TypeError(f"card must be a Card, a dict or a file path, not {type(card).__name__}")


def file_chunks(path: Path, total: int, progress: ProgressFn | None) -> Iterator[bytes]:
    """Read ``path`` in chunks, reporting bytes sent so far."""
    sent = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sent += len(chunk)
            yield chunk
            if progress is not None:
                progress(sent, total)


def rich_progress(label: str) -> tuple[ProgressFn, Callable[[], None]]:
    """A rich progress bar on stderr, as a callback and a function that closes it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),  # stdout stays clean for --json and pipes
        transient=False,
    )
    task = bar.add_task(label, total=None)
    bar.start()

    def update(sent: int, total: int) -> None:
        bar.update(task, completed=sent, total=total)

    return update, bar.stop


class Dataset:
    """A handle on one dataset: its public ``card`` and ``mock`` tables.

    Owners also see ``rows``, ``size`` and ``content_hash``; analysts see
    ``None`` there.
    """

    def __init__(self, transport: Transport, data: dict[str, Any]) -> None:
        self._t = transport
        self.name: str = data["name"]
        self.card: Card = Card.from_mapping(data["card"])
        self.created_at: str | None = data.get("created_at")
        self.rows: int | None = data.get("rows")
        self.size: int | None = data.get("size")
        self.content_hash: str | None = data.get("content_hash")
        self._mock: pd.DataFrame | None = None

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}:{c.type.value}" for c in self.card.columns)
        return f"Dataset({self.name!r}, columns=[{cols}])"

    def to_dict(self) -> dict[str, Any]:
        """One row for listings: name, description, column count, privacy unit, owner facts."""
        unit = self.card.privacy_unit
        return {
            "name": self.name,
            "description": self.card.description,
            "columns": len(self.card.columns),
            "privacy_unit": unit.column if unit else None,
            "rows": self.rows,
            "created_at": self.created_at,
        }

    def columns_frame(self) -> pd.DataFrame:
        """The card's columns as a table: name, type, bounds or categories, nullable."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "type": c.type.value,
                    "domain": _domain(c.lower, c.upper, c.categories),
                    "nullable": c.nullable,
                    "description": c.description,
                }
                for c in self.card.columns
            ]
        )

    def _repr_html_(self) -> str:
        head = html_table(
            [(k, v) for k, v in self.to_dict().items() if v is not None], title=self.name
        )
        cols: str = self.columns_frame()._repr_html_()  # type: ignore[operator]
        return head + cols

    @property
    def mock(self) -> pd.DataFrame:
        """A 1,000-row mock table made from the card alone (fetched once, then cached)."""
        if self._mock is None:
            self._mock = self.mock_rows(1000)
        return self._mock.copy()

    def mock_rows(self, n: int) -> pd.DataFrame:
        """A fresh mock table of ``n`` rows (at most the node's ``mock_rows_max``)."""
        response = self._t.send(
            "GET", f"/v1/datasets/{quote(self.name, safe='')}/mock", params={"rows": n}
        )
        import pandas as pd

        return pd.read_parquet(io.BytesIO(response.content))

    def query(
        self,
        sql: str,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        delta: float | None = None,
        presentation: dict[str, Any] | None = None,
        timeout: float = 300.0,
    ) -> pd.DataFrame:
        """Answer an aggregate SQL query with differential privacy.

        Give ``epsilon=`` (pure ε-DP, discrete Laplace) or ``rho=`` (ρ-zCDP,
        discrete Gaussian); ``delta=`` only when grouping by a string column.
        Returns the released table: each value with its noise scale and 95 %
        confidence interval. The cost is charged to your budget on release.
        """
        payload = queries.query_payload(
            self.name, sql, epsilon=epsilon, rho=rho, delta=delta, presentation=presentation
        )
        return queries.run(self._t, payload, timeout=timeout)

    def estimate(
        self,
        sql: str,
        *,
        epsilon: float | None = None,
        rho: float | None = None,
        delta: float | None = None,
    ) -> dict[str, Any]:
        """Dry run: the query's privacy cost and expected error; spends nothing."""
        payload = queries.query_payload(
            self.name, sql, epsilon=epsilon, rho=rho, delta=delta, presentation=None
        )
        return queries.estimate(self._t, payload)


def _domain(lower: float | None, upper: float | None, categories: list[str] | None) -> str:
    if categories is not None:
        return ", ".join(categories)
    if lower is None and upper is None:
        return ""
    return f"[{'' if lower is None else lower}, {'' if upper is None else upper}]"


class Datasets:
    """``node.datasets``: register and list the node's datasets."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def add(
        self,
        name: str,
        *,
        path: str | Path,
        card: CardLike,
        progress: bool | ProgressFn | None = None,
    ) -> Dataset:
        """Upload a CSV or Parquet file and register it as dataset ``name`` (owner only).

        The file is streamed in 1 MiB chunks (``PUT /v1/uploads``), then checked
        against the card by the node; a file that breaks the card raises
        :class:`~insitu.errors.CardViolation` and registers nothing.

        Parameters
        ----------
        card:
            A :class:`~insitu.tables.card.Card`, a mapping, or a path to a
            YAML/JSON card file. Its name is set to ``name``.
        progress:
            ``True`` for a progress bar, ``False`` for none, a callable for
            ``progress(sent_bytes, total_bytes)``; ``None`` shows a bar for
            files of 16 MiB or more.
        """
        parsed = load_card(card, name=name)
        file = Path(path)
        if not file.is_file():
            raise InvalidInput(f"{file} is not a file")
        total = file.stat().st_size
        close: Callable[[], None] | None = None
        callback: ProgressFn | None
        if callable(progress):
            callback = progress
        elif progress or (progress is None and total >= AUTO_PROGRESS_BYTES):
            callback, close = rich_progress(f"uploading {file.name}")
        else:
            callback = None
        try:
            upload = self._t.send(
                "PUT",
                "/v1/uploads",
                content=file_chunks(file, total, callback),
                headers={"Content-Length": str(total), "Content-Type": "application/octet-stream"},
                timeout=UPLOAD_TIMEOUT,
            ).json()
        finally:
            if close is not None:
                close()
        body = {"name": name, "card": parsed.to_dict(), "upload_id": upload["upload_id"]}
        # The node checks every row before it answers: large files take a while.
        registered = self._t.send("POST", "/v1/datasets", json_body=body, timeout=UPLOAD_TIMEOUT)
        return Dataset(self._t, registered.json())

    def list(self) -> Listing[Dataset]:
        """Every dataset, as handles; shows as a table in Jupyter (``.to_frame()`` too)."""
        return Listing(Dataset(self._t, d) for d in self._t.get_json("/v1/datasets"))

    def get(self, name: str) -> Dataset:
        """One dataset; :class:`~insitu.errors.NotFound` if there is none by that name."""
        return Dataset(self._t, self._t.get_json(f"/v1/datasets/{quote(name, safe='')}"))

    def delete(self, name: str) -> None:
        """Remove a dataset and its file (owner only)."""
        self._t.send("DELETE", f"/v1/datasets/{quote(name, safe='')}")
