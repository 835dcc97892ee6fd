"""DP query requests: an aggregate SQL query answered with noise, charged to the budget."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from insitu.computations.dp_query import Presentation, compile_sql, dry_run, execute, plan_cost
from insitu.errors import InvalidInput, PayloadTooLarge, QueryError
from insitu.node.kinds.base import DatasetAccess, Output, Prepared, RequestKind
from insitu.node.store.records import Request

MAX_SQL = 20_000
PRESENTATION_FIELDS = {"nonnegative", "digits", "suppress_below", "margins", "total_label", "level"}


def _number(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QueryError(f"{key} must be a finite number")
    return float(value)


def parse(payload: dict[str, Any], data: DatasetAccess) -> dict[str, Any]:
    """Check a DP query payload; returns its normalised form with the compiled plan."""
    dataset, sql = payload.get("dataset"), payload.get("sql")
    if not isinstance(dataset, str):
        raise InvalidInput("a dp_query request needs 'dataset'")
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInput("a dp_query request needs 'sql'")
    if len(sql) > MAX_SQL:
        raise PayloadTooLarge(f"sql is longer than {MAX_SQL} characters")
    presentation = payload.get("presentation") or {}
    if not isinstance(presentation, dict) or set(presentation) - PRESENTATION_FIELDS:
        raise InvalidInput(f"presentation may set only {', '.join(sorted(PRESENTATION_FIELDS))}")
    card = data.card(dataset)
    plan = compile_sql(sql, card)
    privacy = {k: _number(payload, k) for k in ("epsilon", "rho", "delta")}
    cost = plan_cost(plan, **privacy)
    return {
        "dataset": dataset, "sql": sql, **privacy, "presentation": presentation,
        "plan": plan, "card": card, "cost": cost,
    }  # fmt: skip


class DpQueryKind(RequestKind):
    """Released without manual output checking: every number is DP, the cost is in the ledger."""

    name = "dp_query"

    def prepare(self, payload: dict[str, Any], data: DatasetAccess) -> Prepared:
        q = parse(payload, data)
        stored = {k: q[k] for k in ("dataset", "sql", "epsilon", "rho", "delta", "presentation")}
        stored["plan_hash"] = q["plan"].hash
        return Prepared(
            datasets=[q["dataset"]], payload=stored, cost=q["cost"].to_dict(), output_checking=False
        )

    def run(self, request: Request, data: DatasetAccess, workdir: Path) -> Output:
        q = parse(request.payload, data)
        release = execute(
            q["plan"], data.prepared_path(q["dataset"]), q["card"],
            epsilon=q["epsilon"], rho=q["rho"], delta=q["delta"],
            presentation=Presentation(**q["presentation"]),
        )  # fmt: skip
        buf = io.BytesIO()
        release.table.to_parquet(buf, index=False)
        return Output(
            buf.getvalue(),
            "application/vnd.apache.parquet",
            release.cost.to_dict(),
            release.metadata(),
        )


def estimate(payload: dict[str, Any], data: DatasetAccess) -> dict[str, Any]:
    """Cost and expected error of a query, without reading data or spending budget."""
    q = parse(payload, data)
    dry = dry_run(q["plan"], q["card"], epsilon=q["epsilon"], rho=q["rho"], delta=q["delta"])
    return {
        "cost": dry.cost.to_dict(),
        "expected_error": [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in row.items()
            }
            for row in dry.table.to_dict(orient="records")
        ],
        "selection_threshold": dry.threshold,
        "level": dry.level,
    }
