"""DP queries from the client: estimate the cost and error, then run and fetch the release."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from insitu.client.requests import Request
from insitu.client.transport import Transport
from insitu.errors import Conflict

if TYPE_CHECKING:
    import pandas as pd


def query_payload(
    dataset: str,
    sql: str,
    *,
    epsilon: float | None,
    rho: float | None,
    delta: float | None,
    presentation: dict[str, Any] | None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"dataset": dataset, "sql": sql}
    for key, value in (("epsilon", epsilon), ("rho", rho), ("delta", delta)):
        if value is not None:
            payload[key] = value
    if presentation:
        payload["presentation"] = presentation
    return payload


def estimate(transport: Transport, payload: dict[str, Any]) -> dict[str, Any]:
    """Cost and expected error; the node reads no data and spends nothing."""
    result: dict[str, Any] = transport.post_json("/v1/queries/estimate", payload)
    return result


def submit(transport: Transport, payload: dict[str, Any], *, description: str = "") -> Request:
    body = {"kind": "dp_query", "payload": payload, "description": description}
    return Request(transport, transport.post_json("/v1/requests", body))


def run(transport: Transport, payload: dict[str, Any], *, timeout: float) -> pd.DataFrame:
    """Submit, wait, and return the released table with its error columns.

    A query that no policy approves waits for the owner; if it is still
    pending after ``timeout`` seconds, :class:`Conflict` names the request so
    the caller can wait for it later with ``node.request(id).wait()``.
    """
    req = submit(transport, payload)
    try:
        req.wait(timeout=timeout)
    except TimeoutError:
        if req.status == "pending":
            raise Conflict(
                f"DP query request {req.id} awaits the owner's approval; "
                f"fetch it later with node.request({req.id}).wait().result()",
                details={"request_id": req.id},
            ) from None
        raise
    import pandas as pd

    frame = req.result()
    if not isinstance(frame, pd.DataFrame):
        raise Conflict(f"request {req.id} did not return a table")
    frame.attrs["request_id"] = req.id
    frame.attrs["cost"] = req.cost
    return frame
