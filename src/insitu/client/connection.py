"""``insitu.connect``: one object per node, grouping members, datasets, requests and controls."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from insitu.client.collaborations import Collaborations
from insitu.client.datasets import Dataset, Datasets
from insitu.client.governance import Audit, Budgets, Policies
from insitu.client.members import Members
from insitu.client.peers import Peers
from insitu.client.records import Listing, MemberInfo, html_table
from insitu.client.requests import Request, Requests
from insitu.client.transport import DEFAULT_TIMEOUT, Transport
from insitu.errors import InvalidInput

URL_ENV = "INSITU_URL"
TOKEN_ENV = "INSITU_TOKEN"  # noqa: S105 - the name of a variable, not a secret


class NodeClient:
    """A connection to one node, as one member (the token's owner).

    Groups: :attr:`members`, :attr:`datasets`, :attr:`requests`,
    :attr:`policies`, :attr:`budgets`, :attr:`audit`. One ``httpx.Client`` is
    reused for every call; close it with :meth:`close` or a ``with`` block.
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self.members = Members(transport)
        self.datasets = Datasets(transport)
        self.requests = Requests(transport)
        self.policies = Policies(transport)
        self.budgets = Budgets(transport)
        self.audit = Audit(transport)
        self.collaborations = Collaborations(transport)
        self.peers = Peers(transport)

    @property
    def url(self) -> str:
        return self._t.url

    def __repr__(self) -> str:
        return f"<insitu node at {self._t.url}>"

    def _repr_html_(self) -> str:
        info = self.info
        return html_table(
            [
                ("url", self._t.url),
                ("name", info.get("name")),
                ("fingerprint", info.get("fingerprint")),
            ],
            title="insitu node",
        )

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._t.close()

    # -- node and caller ------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        """The node's ``name``, ``version``, ``public_key`` and key ``fingerprint``."""
        data: dict[str, Any] = self._t.get_json("/v1/node")
        return data

    @property
    def me(self) -> MemberInfo:
        """The member this connection acts as (checks the token)."""
        return MemberInfo.from_wire(self._t.get_json("/v1/me"))

    # -- shortcuts -------------------------------------------------------------
    def dataset(self, name: str) -> Dataset:
        """A dataset handle with ``.card``, ``.mock`` and ``.mock_rows(n)``."""
        return self.datasets.get(name)

    def request(self, request_id: int) -> Request:
        """A request by id (owners: any; analysts: their own)."""
        return self.requests.get(request_id)

    def submit_code(
        self, fn: Callable[..., Any] | str, *, datasets: list[str], description: str = ""
    ) -> Request:
        """Submit a function (or its source) to run on ``datasets``; see ``submit_code``."""
        return self.requests.submit_code(fn, datasets=datasets, description=description)

    def ledger(self, dataset: str | None = None) -> Listing[dict[str, Any]]:
        """Privacy charges (ρ, ε, δ per released request); analysts see their own."""
        return Listing(self._t.get_json("/v1/ledger", dataset=dataset))


def connect(
    url: str | None = None,
    *,
    token: str | None = None,
    verify: bool | str | Path = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> NodeClient:
    """Connect to a node.

    Parameters
    ----------
    url:
        The node's base URL, e.g. ``https://stats.example.org:8443``; defaults
        to ``$INSITU_URL``.
    token:
        The member's bearer token; defaults to ``$INSITU_TOKEN``. It is sent
        only in the ``Authorization`` header and never shown in ``repr``.
    verify:
        TLS verification: ``True`` (system CAs), a path to a CA bundle (for a
        node with a private CA), or ``False`` (testing only).
    timeout:
        Seconds per call (long polls and uploads extend it as needed).

    Nothing is sent until the first call; ``node.me`` checks the token.
    """
    url = url or os.environ.get(URL_ENV)
    if not url:
        raise InvalidInput(f"no node URL: pass url= or set ${URL_ENV}")
    token = token or os.environ.get(TOKEN_ENV)
    return NodeClient(Transport(url, token=token, verify=verify, timeout=timeout))
