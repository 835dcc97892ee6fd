"""Registering datasets (checked against their card), listing them, and their mocks."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pandas as pd

from insitu.errors import AlreadyExists, InvalidInput
from insitu.node.clock import Clock
from insitu.node.services.audit_log import AuditLog
from insitu.node.services.uploads import Uploads
from insitu.node.store.base import Store
from insitu.node.store.records import Dataset
from insitu.tables.card import NAME_PATTERN, Card
from insitu.tables.ingest import ingest
from insitu.tables.mock import make_mock

FORMATS = ("csv", "parquet")


class Datasets:
    """Owner-registered private tables and their public cards."""

    def __init__(
        self, store: Store, audit: AuditLog, clock: Clock, directory: Path, uploads: Uploads
    ) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        self._dir = directory
        self._uploads = uploads
        directory.mkdir(parents=True, exist_ok=True)

    def register(self, name: str, *, card: Any, upload_id: str, by: str) -> Dataset:
        """Ingest an upload as dataset ``name``; any row breaking the card refuses the whole file.

        Nothing is stored when ingestion fails, and the upload is discarded either way.
        """
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise InvalidInput(
                "dataset name must be letters, digits or _ (at most 63), not starting with a digit"
            )
        parsed = card if isinstance(card, Card) else Card.from_mapping(card, name=name)
        if parsed.name != name:
            raise InvalidInput(f"card names dataset {parsed.name!r}, expected {name!r}")
        source = self._uploads.path(upload_id)
        if any(d.name == name for d in self._store.list_datasets()):
            self._uploads.discard(upload_id)
            raise AlreadyExists(f"dataset {name!r} already exists")
        dest = self._dir / f"{name}.parquet"
        tmp_dest = self._dir / f".{name}.{upload_id}.parquet"
        try:
            report = ingest(source, parsed, tmp_dest)
            dataset = Dataset(
                name=name,
                card=parsed.to_dict(),
                file=dest.name,
                content_hash=report.sha256,
                rows=report.rows,
                size=tmp_dest.stat().st_size,
                created_at=self._clock(),
                created_by=by,
            )
            with self._store.transaction():
                self._store.add_dataset(dataset)
                self._audit.record(
                    by,
                    "dataset.registered",
                    f"dataset:{name}",
                    {
                        "content_hash": dataset.content_hash,
                        "rows": dataset.rows,
                        "card": dataset.card,
                    },
                )
                os.replace(tmp_dest, dest)
        finally:
            tmp_dest.unlink(missing_ok=True)
            self._uploads.discard(upload_id)
        return dataset

    def get(self, name: str) -> Dataset:
        return self._store.get_dataset(name)

    def card(self, name: str) -> Card:
        return Card.from_mapping(self._store.get_dataset(name).card)

    def all(self) -> list[Dataset]:
        return self._store.list_datasets()

    def path(self, name: str) -> Path:
        return self._dir / self._store.get_dataset(name).file

    def mock(self, name: str, *, rows: int) -> bytes:
        """Parquet bytes of a mock table made from the card alone."""
        frame = make_mock(self.card(name), rows=rows)
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()

    def mock_frame(self, name: str, *, rows: int) -> pd.DataFrame:
        return make_mock(self.card(name), rows=rows)

    def delete(self, name: str, *, by: str) -> None:
        path = self.path(name)
        with self._store.transaction():
            self._store.delete_dataset(name)
            self._audit.record(by, "dataset.deleted", f"dataset:{name}", {})
        path.unlink(missing_ok=True)
