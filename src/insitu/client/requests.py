"""Requests: submit code, decide, wait for, preview and fetch results with their receipts."""

from __future__ import annotations

import inspect
import textwrap
import time
from collections.abc import Callable
from typing import Any

from insitu.client.records import Listing, decode_result, html_table
from insitu.client.transport import Transport
from insitu.errors import Conflict, ExecutionFailed

#: Statuses in which the node is still working on an approved request.
BUSY = frozenset({"approved", "running"})
#: Statuses after which nothing more happens to a request.
FINAL = frozenset({"denied", "failed", "released"})
#: Longest single long-poll the node allows (seconds).
LONG_POLL = 20.0
#: Growth of the pause between polls while a request waits for its owner, and its cap.
POLL_BACKOFF = 1.5
MAX_POLL_SECONDS = 5.0
#: Seconds a preview on mock data may take (the sandbox's own limits apply first).
PREVIEW_TIMEOUT = 900.0
#: Fields shown per request in listings (``to_dict`` has them all).
SUMMARY = ("id", "kind", "status", "requester", "datasets", "description", "created_at")


class RequestDenied(Conflict):
    """The owner denied the request; ``details`` holds the reason."""

    code = "request_denied"


def function_source(fn: Callable[..., Any] | str) -> str:
    """The dedented source of a function object, or a source string as given."""
    if isinstance(fn, str):
        return textwrap.dedent(fn)
    if not inspect.isfunction(fn):
        raise TypeError(f"submit_code takes a function or its source, not {type(fn).__name__}")
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except OSError:
        raise TypeError(
            f"the source of {fn.__name__}() is not available (defined in a REPL?); "
            "pass the source as a string instead"
        ) from None


class Request:
    """One request on the node, as last fetched; :meth:`refresh` fetches it again.

    Attributes mirror the node's view: ``id``, ``kind``, ``status``,
    ``requester``, ``datasets``, ``description``, ``reason`` (for a denial or
    failure), ``cost``, ``payload`` (for code: ``source`` and ``function``).
    """

    def __init__(self, transport: Transport, data: dict[str, Any]) -> None:
        self._t = transport
        self._update(data)

    def _update(self, data: dict[str, Any]) -> None:
        self.data: dict[str, Any] = dict(data)
        self.id: int = int(data["id"])
        self.kind: str = data["kind"]
        self.status: str = data["status"]
        self.requester: str = data.get("requester", "")
        self.datasets: list[str] = list(data.get("datasets", []))
        self.description: str = data.get("description", "")
        self.reason: str | None = data.get("reason")
        self.cost: dict[str, Any] | None = data.get("cost")
        self.payload: dict[str, Any] = dict(data.get("payload") or {})

    @property
    def _path(self) -> str:
        return f"/v1/requests/{self.id}"

    @property
    def source(self) -> str | None:
        """The submitted Python source, for code requests."""
        src = self.payload.get("source")
        return src if isinstance(src, str) else None

    def to_dict(self) -> dict[str, Any]:
        """Everything the node said about the request, including its payload."""
        return dict(self.data)

    def summary(self) -> dict[str, Any]:
        """The fields a listing shows: id, kind, status, requester, datasets, description."""
        return {k: self.data.get(k) for k in SUMMARY}

    def __repr__(self) -> str:
        extra = f", reason={self.reason!r}" if self.reason else ""
        return (
            f"Request(id={self.id}, kind={self.kind!r}, status={self.status!r}, "
            f"datasets={self.datasets!r}{extra})"
        )

    def _repr_html_(self) -> str:
        rows = [
            (k, self.data.get(k))
            for k in ("id", "kind", "status", "requester", "datasets", "description", "reason")
            if self.data.get(k) not in (None, "", [])
        ]
        return html_table(rows, title=f"request {self.id}")

    # -- lifecycle ----------------------------------------------------------
    def refresh(self) -> Request:
        """Fetch the current state; returns self."""
        self._update(self._t.get_json(self._path))
        return self

    def approve(self) -> Request:
        """Approve a pending request (owner only); the node starts running it."""
        self._update(self._t.post_json(f"{self._path}/approve"))
        return self

    def deny(self, *, reason: str) -> Request:
        """Deny a pending request with a reason the analyst will see (owner only)."""
        self._update(self._t.post_json(f"{self._path}/deny", {"reason": reason}))
        return self

    def release(self) -> Request:
        """Release a checked result to the analyst (owner only)."""
        self._update(self._t.post_json(f"{self._path}/release"))
        return self

    def preview(self) -> Any:
        """Run the request on mock data and return its decoded output (owner only).

        Nothing private is read and nothing is released; the node records the
        preview in its audit log.
        """
        response = self._t.send("POST", f"{self._path}/preview", timeout=PREVIEW_TIMEOUT)
        return decode_result(response.content, response.headers.get("content-type", ""))

    def wait(
        self,
        timeout: float | None = 600.0,
        *,
        until_released: bool = False,
        poll_seconds: float = 0.5,
    ) -> Request:
        """Block until the node has finished with the request; returns self.

        Long-polls the node while the request is approved or running. While
        it waits for the owner's decision (pending) or, with
        ``until_released=True``, the owner's release (done), it polls after
        ``poll_seconds``, then less and less often (x1.5 each time, at most
        every 5 s), so that many waiting analysts load the node little.

        Raises
        ------
        ExecutionFailed
            The run failed; the message is the node's reason.
        RequestDenied
            The owner denied it (a :class:`~insitu.errors.Conflict`); the
            message holds the reason.
        TimeoutError
            ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_seconds
        while True:
            if self.status in BUSY:
                interval = poll_seconds
                left = LONG_POLL if deadline is None else max(0.0, deadline - time.monotonic())
                poll = min(LONG_POLL, left)
                self._update(
                    self._t.send(
                        "GET",
                        f"{self._path}/wait",
                        params={"timeout": poll},
                        timeout=self._t.timeout + poll,
                    ).json()
                )
            else:
                self.refresh()
            if self.status == "failed":
                raise ExecutionFailed(
                    f"request {self.id} failed: {self.reason or 'no reason given'}",
                    details={"request_id": self.id, "reason": self.reason},
                )
            if self.status == "denied":
                raise RequestDenied(
                    f"request {self.id} was denied: {self.reason or 'no reason given'}",
                    details={"request_id": self.id, "reason": self.reason},
                )
            waiting = self.status in BUSY or self.status == "pending"
            if until_released and self.status == "done":
                waiting = True
            if not waiting:
                return self
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"request {self.id} is still {self.status} after {timeout} seconds"
                )
            if self.status not in BUSY:
                pause = interval
                if deadline is not None:
                    pause = min(pause, max(0.0, deadline - time.monotonic()))
                time.sleep(pause)
                interval = min(interval * POLL_BACKOFF, MAX_POLL_SECONDS)

    # -- outputs -----------------------------------------------------------
    def result_bytes(self) -> tuple[bytes, str]:
        """The raw result and its media type (Parquet or JSON)."""
        response = self._t.send("GET", f"{self._path}/result")
        return response.content, response.headers.get("content-type", "")

    def result(self) -> Any:
        """The released result, decoded: a pandas DataFrame for tables, else the JSON value.

        Owners may also read a result that waits for release, to check it.
        """
        return decode_result(*self.result_bytes())

    @property
    def receipt(self) -> dict[str, Any]:
        """The signed receipt of a released result: request, approvals, cost, hashes, audit."""
        data: dict[str, Any] = self._t.get_json(f"{self._path}/receipt")
        return data


class Requests:
    """``node.requests``: the requests the caller may see (owners: all; analysts: their own)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def submit(self, kind: str, payload: dict[str, Any], *, description: str = "") -> Request:
        """Submit a request of any kind the node knows (``code`` and others)."""
        body = {"kind": kind, "payload": payload, "description": description}
        return Request(self._t, self._t.post_json("/v1/requests", body))

    def submit_code(
        self,
        fn: Callable[..., Any] | str,
        *,
        datasets: list[str],
        description: str = "",
    ) -> Request:
        """Submit a Python function to run on ``datasets``.

        The function's parameters are named after the datasets it reads; it
        returns a DataFrame or a JSON value. Its exact source is what the owner
        reviews and what the receipt's ``code_hash`` covers.
        """
        if isinstance(datasets, str):
            raise TypeError("datasets must be a list of dataset names, not one string")
        payload = {"source": function_source(fn), "datasets": list(datasets)}
        return self.submit("code", payload, description=description)

    def get(self, request_id: int) -> Request:
        return Request(self._t, self._t.get_json(f"/v1/requests/{int(request_id)}"))

    def list(self, status: str | list[str] | None = None) -> Listing[Request]:
        """Requests, optionally only those with the given status(es)."""
        wanted = ",".join(status) if isinstance(status, list) else status
        data = self._t.get_json("/v1/requests", status=wanted)
        return Listing(Request(self._t, r) for r in data)

    def pending(self) -> Listing[Request]:
        """Requests waiting for a decision."""
        return self.list(status="pending")
