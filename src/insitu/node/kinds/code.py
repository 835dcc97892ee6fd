"""Custom code requests: an analyst's Python function, run in the sandbox."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from insitu.errors import ExecutionFailed, InvalidInput, PayloadTooLarge
from insitu.node.kinds.base import DatasetAccess, Output, Prepared, RequestKind
from insitu.node.sandbox import Limits, check_source, run_function
from insitu.node.store.records import Request

MEDIA_TYPES = {"parquet": "application/vnd.apache.parquet", "json": "application/json"}


_RAISED = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)):")


def public_error(error: str) -> str:
    """What the analyst may see of a failure on private data.

    An exception's message can carry private values (``raise ValueError(row)``),
    so only its type leaves; the full text goes to the owner's audit log.
    Failures the sandbox reports itself (limits, refused access) say nothing
    about the data and are shown as they are.
    """
    match = _RAISED.match(error)
    if match is None:
        return error
    return f"the function raised {match.group(1)} (the owner can read its message in the audit log)"


class CodeKind(RequestKind):
    """Runs one function whose parameters are named after the approved datasets."""

    name = "code"

    def __init__(self, limits: Limits, *, max_source_bytes: int) -> None:
        self._limits = limits
        self._max_source = max_source_bytes

    def prepare(self, payload: dict[str, Any], data: DatasetAccess) -> Prepared:
        source = payload.get("source")
        datasets = payload.get("datasets")
        if not isinstance(source, str):
            raise InvalidInput("a code request needs 'source' (the function's Python source)")
        if len(source.encode()) > self._max_source:
            raise PayloadTooLarge(f"source exceeds {self._max_source} bytes")
        if (
            not isinstance(datasets, list)
            or not datasets
            or not all(isinstance(d, str) for d in datasets)
        ):
            raise InvalidInput("a code request needs 'datasets': a non-empty list of dataset names")
        info = check_source(source)
        for name in datasets:
            data.card(name)  # raises NotFound for unknown datasets
        unknown = sorted(set(info.parameters) - set(datasets))
        if unknown:
            raise InvalidInput(
                f"function {info.name}() takes {', '.join(unknown)}, which are not among the "
                f"requested datasets ({', '.join(datasets)})"
            )
        return Prepared(datasets=list(datasets), payload={"source": source, "function": info.name})

    def _run(self, request: Request, paths: dict[str, Path], workdir: Path) -> Output:
        outcome = run_function(
            request.payload["source"], tables=paths, limits=self._limits, workdir=workdir
        )
        if not outcome.ok:
            error = outcome.error or "the function failed"
            raise ExecutionFailed(
                public_error(error),
                details={"private": {"error": error, "stderr": outcome.stderr[-2000:]}},
            )
        return Output(
            data=outcome.output,
            media_type=MEDIA_TYPES[str(outcome.output_kind.value)],
            notes={"cpu_seconds": outcome.cpu_seconds, "wall_seconds": outcome.wall_seconds},
        )

    def run(self, request: Request, data: DatasetAccess, workdir: Path) -> Output:
        return self._run(request, {d: data.path(d) for d in request.datasets}, workdir)

    def preview(self, request: Request, data: DatasetAccess, workdir: Path) -> Output:
        return self._run(
            request, {d: data.mock_path(d, rows=1000) for d in request.datasets}, workdir
        )
