"""Node settings: what a node's data directory holds and how the server is configured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from insitu.errors import InvalidInput

CONFIG_FILE = "node.json"
KEY_FILE = "identity.pem"
DB_FILE = "node.db"


class Limits(BaseModel):
    """Size and time limits the node enforces."""

    model_config = ConfigDict(extra="forbid")

    max_upload_bytes: int = Field(default=4 << 30, ge=1)
    max_request_source_bytes: int = Field(default=256 << 10, ge=1)
    code_cpu_seconds: int = Field(default=120, ge=1)
    code_wall_seconds: int = Field(default=300, ge=1)
    code_memory_bytes: int = Field(default=4 << 30, ge=1 << 26)
    mock_rows_max: int = Field(default=100_000, ge=1)


class NodeSettings(BaseModel):
    """Everything a node needs to start, stored as ``node.json`` in its data directory.

    There is no default password or token anywhere: the owner's first token
    is made by ``insitu node init`` and shown once.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    data_dir: Path
    database_url: str | None = None
    limits: Limits = Field(default_factory=Limits)
    runner_poll_seconds: float = Field(default=0.2, gt=0)
    insecure_peers: bool = False
    peer_ca_file: Path | None = None
    public_url: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or len(v) > 64 or not all(c.isalnum() or c in "-_." for c in v):
            raise ValueError("node name must be 1-64 letters, digits, '-', '_' or '.'")
        return v

    # -- paths -----------------------------------------------------------
    @property
    def key_path(self) -> Path:
        return self.data_dir / KEY_FILE

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def audit_head_path(self) -> Path:
        return self.data_dir / "audit.head"

    @property
    def db_url(self) -> str:
        """The configured database URL, or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{(self.data_dir / DB_FILE).resolve()}"

    # -- persistence -----------------------------------------------------
    def save(self) -> None:
        data: dict[str, Any] = self.model_dump(mode="json", exclude={"data_dir"})
        (self.data_dir / CONFIG_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, data_dir: str | Path, **overrides: Any) -> NodeSettings:
        d = Path(data_dir).resolve()
        path = d / CONFIG_FILE
        if not path.is_file():
            raise InvalidInput(
                f"{d} is not an insitu node directory (no {CONFIG_FILE}); "
                "create one with `insitu node init`"
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate({**data, "data_dir": d})
