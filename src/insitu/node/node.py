"""The composition root: one object that wires a node's services together."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from insitu.computations.dp_query import prepare_dataset
from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.node.clock import Clock, utc_now
from insitu.node.db.engine import make_engine
from insitu.node.db.migrate import upgrade
from insitu.node.federation.computations import COMPUTATIONS
from insitu.node.federation.service import Federation
from insitu.node.kinds.base import DatasetAccess, RequestKind
from insitu.node.kinds.code import CodeKind
from insitu.node.kinds.dp_query import DpQueryKind
from insitu.node.sandbox import Limits as SandboxLimits
from insitu.node.services.audit_log import AuditLog
from insitu.node.services.budgets import Budgets
from insitu.node.services.datasets import Datasets
from insitu.node.services.members import Members
from insitu.node.services.policies import Policies
from insitu.node.services.requests import Requests
from insitu.node.services.results import ResultFiles
from insitu.node.services.runner import Runner
from insitu.node.services.uploads import Uploads
from insitu.node.settings import NodeSettings
from insitu.node.store.sql import SqlStore
from insitu.tables.card import Card
from insitu.tables.mock import make_mock


class _Access(DatasetAccess):
    def __init__(self, datasets: Datasets, mocks_dir: Path, prepared_dir: Path) -> None:
        self._datasets = datasets
        self._mocks = mocks_dir
        self._prepared = prepared_dir
        self._lock = threading.Lock()

    def card(self, name: str) -> Card:
        return self._datasets.card(name)

    def path(self, name: str) -> Path:
        return self._datasets.path(name)

    def prepared_path(self, name: str) -> Path:
        """Made on first use and kept per (data, card) version: the bounding and
        encoding of the rows happen once instead of in every DP query."""
        dataset = self._datasets.get(name)
        card = Card.from_mapping(dataset.card)
        key = hashlib.sha256((dataset.content_hash + card.to_json()).encode()).hexdigest()[:16]
        path = self._prepared / f"{name}-{key}.parquet"
        with self._lock:
            if not path.exists():
                self._prepared.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                prepare_dataset(self._datasets.path(name), tmp, card)
                tmp.replace(path)
        return path

    def mock_path(self, name: str, *, rows: int) -> Path:
        card = self.card(name)
        key = hashlib.sha256(card.to_json().encode()).hexdigest()[:16]
        path = self._mocks / f"{name}-{key}-{rows}.parquet"
        if not path.exists():
            self._mocks.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            make_mock(card, rows=rows).to_parquet(tmp, index=False)
            tmp.replace(path)
        return path


def load_key(settings: NodeSettings) -> SigningKey:
    try:
        return SigningKey.from_pem(settings.key_path.read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"node key {settings.key_path} is missing") from None


class Node:
    """A node's services over its store, data directory and key."""

    def __init__(
        self, settings: NodeSettings, *, clock: Clock = utc_now, migrate: bool = True
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.key = load_key(settings)
        self.engine = make_engine(settings.db_url)
        if migrate:
            upgrade(self.engine)
        self.store = SqlStore(self.engine)
        self.audit = AuditLog(self.store, self.key, settings.audit_head_path, clock)
        self.members = Members(self.store, self.audit, clock)
        self.uploads = Uploads(settings.uploads_dir, max_bytes=settings.limits.max_upload_bytes)
        self.datasets = Datasets(self.store, self.audit, clock, settings.datasets_dir, self.uploads)
        self.policies = Policies(self.store, self.audit, clock, computations=COMPUTATIONS)
        self.budgets = Budgets(self.store, self.audit, clock)
        self.access = _Access(
            self.datasets, settings.data_dir / "mocks", settings.data_dir / "prepared"
        )
        limits = settings.limits
        self.kinds: dict[str, RequestKind] = {
            "code": CodeKind(
                SandboxLimits(
                    cpu_seconds=limits.code_cpu_seconds,
                    wall_seconds=limits.code_wall_seconds,
                    memory_bytes=limits.code_memory_bytes,
                ),
                max_source_bytes=limits.max_request_source_bytes,
            ),
            "dp_query": DpQueryKind(),
        }
        self.requests = Requests(
            self.store,
            self.audit,
            clock,
            self.kinds,
            self.access,
            self.policies,
            self.budgets,
            ResultFiles(settings.results_dir),
            self.key,
            settings.name,
        )
        self.runner = Runner(
            self.store,
            self.requests,
            clock,
            settings.data_dir / "work",
            poll_seconds=settings.runner_poll_seconds,
        )
        self.federation = Federation(
            settings,
            self.store,
            self.audit,
            clock,
            self.key,
            self.datasets,
            self.budgets,
            policies=self.policies,
        )

    def close(self) -> None:
        self.runner.stop()
        self.federation.close()
        self.store.close()
