"""``insitu.psi``, ``insitu.secure_stats``, ``insitu.secure_vector_sum``: multi-party jobs.

Each helper builds the :class:`~insitu.federation.spec.CollaborationSpec`
(parties with their roles, datasets and keys; privacy cost per input
dataset; result parties), proposes it through ``node.collaborations`` and
returns the proposed :class:`~insitu.client.collaborations.Collaboration`.
Every owner then approves its own part; ``.wait()`` and ``.result()`` follow.
See ``docs/recipes.md``.

Other parties' URLs and keys come from ``peers=`` (name → ``{"url",
"public_key"}``) or, for owners, from this node's peer register.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from insitu.errors import Forbidden, InvalidInput
from insitu.tables.card import Card

if TYPE_CHECKING:
    from insitu.client.collaborations import Collaboration
    from insitu.client.connection import NodeClient

Party = tuple[str, str]  # (node name, dataset name)
PSI_MODES = ("intersection", "cardinality", "sum", "payload")


def directory(
    node: NodeClient, peers: Mapping[str, Mapping[str, str]] | None = None, url: str | None = None
) -> dict[str, dict[str, str]]:
    """Name → ``{"url", "public_key"}`` of this node and the parties it can reach.

    ``url`` is this node's address as its peers reach it (default: the
    client's URL); ``peers`` overrides or replaces the owner's peer register.
    """
    info = node.info
    out = {str(info["name"]): {"url": url or node.url, "public_key": str(info["public_key"])}}
    if peers is None:
        try:
            peers = {p["name"]: p for p in node.peers.list() if p.get("status") != "suspended"}
        except Forbidden:
            raise InvalidInput(
                "only owners can read the peer register: pass peers={name: {url, public_key}}"
            ) from None
    for name, p in peers.items():
        out[name] = {"url": str(p["url"]), "public_key": str(p["public_key"])}
    return out


def _costs(datasets: Sequence[Party], dp: Mapping[str, float] | None) -> list[dict[str, Any]]:
    if dp is None:
        return [{"party": n, "dataset": d, "exact": True} for n, d in datasets]
    if set(dp) not in ({"epsilon"}, {"rho"}):
        raise InvalidInput('dp must be {"epsilon": ε} or {"rho": ρ}')
    return [{"party": n, "dataset": d, **dict(dp)} for n, d in datasets]


def _parties(
    where: Mapping[str, dict[str, str]],
    roles: Mapping[str, list[str]],
    datasets: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    out = []
    for name, r in roles.items():
        if name not in where:
            raise InvalidInput(f"unknown party {name!r}: not this node nor a registered peer")
        out.append({"name": name, **where[name], "roles": r, "datasets": datasets.get(name, [])})
    return out


def _aggregation_roles(
    inputs: Sequence[Party], computing: Sequence[str], result: str
) -> dict[str, list[str]]:
    """Node name → its roles in a secure aggregation (inputs, computing parties, one result)."""
    roles: dict[str, list[str]] = {}
    for name in [*(n for n, _ in inputs), *computing, result]:
        roles.setdefault(name, [])
    for n, _ in inputs:
        roles[n].append("input")
    for n in computing:
        roles[n].append("computing")
    roles[result].append("result")
    return roles


def _new_id(label: str) -> str:
    return f"{label}-{secrets.token_hex(6)}"


def psi(
    node: NodeClient,
    *,
    receiver: Party,
    sender: Party,
    key: str | Sequence[str],
    mode: str = "intersection",
    normalise: Mapping[str, Any] | None = None,
    value: str | None = None,
    value_scale: float | None = None,
    value_bound: int | None = None,
    value_bits: int = 32,
    group: tuple[str, Sequence[str]] | None = None,
    payload: Sequence[str] = (),
    reveal_to_both: bool = False,
    dp: Mapping[str, float] | None = None,
    result_parties: Sequence[str] | None = None,
    collab_id: str | None = None,
    timeout: float = 3600,
    peers: Mapping[str, Mapping[str, str]] | None = None,
    url: str | None = None,
) -> Collaboration:
    """Propose a PSI between two nodes' datasets; returns the proposed collaboration.

    Parameters
    ----------
    node:
        Client of the proposing node (a party itself).
    receiver, sender:
        ``(node name, dataset)`` of both input parties.
    key:
        Key column(s), the same names in both datasets.
    mode:
        ``intersection``, ``cardinality``, ``sum`` (intersection-sum of the
        sender's ``value`` column) or ``payload`` (the sender's ``payload``
        columns for matched rows).
    normalise:
        :class:`~insitu.crypto.normalise.KeyNormaliser` options: ``trim``,
        ``casefold``, ``nfkc``, ``date_formats``.
    value, value_scale, value_bound, value_bits:
        SUM: the summed column; a factor turning float values into integers;
        the largest scaled value a row may hold (the DP sensitivity); the
        protocol's value width.
    group:
        SUM: ``(receiver's category column, its categories)`` for per-group sums.
    dp:
        ``{"epsilon": ε}`` (nats, pure) or ``{"rho": ρ}`` (zCDP): noise on the
        cardinality/sum, charged once to each input dataset. ``None``: exact.
    result_parties:
        Who receives the output; default this node if allowed, else the party
        that learns it (the receiver, or the sender in SUM mode).
    """
    if mode not in PSI_MODES:
        raise InvalidInput(f"mode must be one of {', '.join(PSI_MODES)}")
    keys = [key] if isinstance(key, str) else list(key)
    params: dict[str, Any] = {
        "mode": mode,
        "receiver": receiver[0],
        "sender": sender[0],
        "key": {"columns": keys, **dict(normalise or {})},
        "reveal_to_both": reveal_to_both,
        "payload_columns": list(payload),
        "value_column": value,
        "value_bits": value_bits,
        "group_column": None if group is None else group[0],
        "group_values": [] if group is None else [str(g) for g in group[1]],
    }
    if value_scale is not None:
        params["value_scale"] = value_scale
    if value_bound is not None:
        params["value_bound"] = value_bound
    where = directory(node, peers, url)
    me = str(node.info["name"])
    learner = sender[0] if mode == "sum" else receiver[0]
    if result_parties is None:
        allowed = {receiver[0], sender[0]} if mode in ("cardinality", "sum") else {learner}
        result_parties = [me] if me in allowed else [learner]
    roles = {
        n: ["input", "result"] if n in result_parties else ["input"]
        for n in (receiver[0], sender[0])
    }
    spec = {
        "collab_id": collab_id or _new_id(f"psi-{mode}"),
        "computation": "psi",
        "parameters": params,
        "parties": _parties(where, roles, {receiver[0]: [receiver[1]], sender[0]: [sender[1]]}),
        "privacy_costs": _costs([receiver, sender], dp),
        "result_parties": list(result_parties),
        "timeout_seconds": timeout,
    }
    return node.collaborations.propose(spec)


def _statistic(stat: Any) -> dict[str, Any]:
    if hasattr(stat, "model_dump"):
        out: dict[str, Any] = stat.model_dump(mode="json")
        return out
    if isinstance(stat, Mapping):
        return dict(stat)
    raise TypeError("a statistic is a secure_stats statistic (Mean(...), Ols(...)) or a mapping")


def _card(
    node: NodeClient, card: Card | Mapping[str, Any] | str | Path | None, own: str | None
) -> Card:
    if card is None:
        if own is None:
            raise InvalidInput("pass card=: this node brings no dataset to take it from")
        return node.dataset(own).card
    if isinstance(card, Card):
        return card
    if isinstance(card, Mapping):
        return Card.from_mapping(dict(card))
    return Card.load(card)


def secure_stats(
    node: NodeClient,
    *,
    inputs: Sequence[Party],
    computing: Sequence[str],
    statistics: Sequence[Any],
    max_rows: int,
    result: str | None = None,
    card: Card | Mapping[str, Any] | str | Path | None = None,
    quorum: int | None = None,
    dp: Mapping[str, float] | None = None,
    frac_bits: int | None = None,
    share_timeout: float | None = None,
    collab_id: str | None = None,
    timeout: float = 3600,
    peers: Mapping[str, Mapping[str, str]] | None = None,
    url: str | None = None,
) -> Collaboration:
    """Propose secure multi-party statistics; returns the proposed collaboration.

    Parameters
    ----------
    inputs:
        ``(node name, dataset)`` of every input party (one dataset each).
    computing:
        2 or 3 computing nodes (may also be input nodes).
    statistics:
        ``Count()``, ``Mean(column=...)``, ``Histogram(...)``, ``CrossTable(...)``,
        ``Ols(y=..., x=[...])``, … from :mod:`insitu.computations.secure_stats`,
        or their mappings.
    max_rows:
        Public bound on the total number of rows.
    result:
        The result node; default this node.
    card:
        The common card (bounds fix precision and DP); default this node's
        own input dataset's card.
    quorum:
        Fewest inputs that must contribute; ``None``: all of them.
    dp:
        ``{"rho": ρ}``: distributed discrete Gaussian noise, ρ-zCDP charged to
        every input dataset. ``None``: exact.
    share_timeout:
        Seconds computing parties wait for shares (the protocol's ``timeout``).
    """
    me = str(node.info["name"])
    result = result or me
    own = next((d for n, d in inputs if n == me), None)
    params: dict[str, Any] = {
        "card": _card(node, card, own).to_dict(),
        "statistics": [_statistic(s) for s in statistics],
        "max_rows": max_rows,
    }
    for name, val in (("quorum", quorum), ("frac_bits", frac_bits), ("timeout", share_timeout)):
        if val is not None:
            params[name] = val
    roles = _aggregation_roles(inputs, computing, result)
    datasets = {n: [d] for n, d in inputs}
    spec = {
        "collab_id": collab_id or _new_id("secure-stats"),
        "computation": "secure_stats",
        "parameters": params,
        "parties": _parties(directory(node, peers, url), roles, datasets),
        "privacy_costs": _costs(list(inputs), dp),
        "result_parties": [result],
        "timeout_seconds": timeout,
    }
    return node.collaborations.propose(spec)


def secure_vector_sum(
    node: NodeClient,
    *,
    inputs: Sequence[Party],
    column: str,
    length: int,
    bound: float,
    computing: Sequence[str],
    result: str | None = None,
    quorum: int | None = None,
    frac_bits: int | None = None,
    share_timeout: float | None = None,
    collab_id: str | None = None,
    timeout: float = 3600,
    peers: Mapping[str, Mapping[str, str]] | None = None,
    url: str | None = None,
) -> Collaboration:
    """Propose the element-wise secure sum of one column over several nodes' datasets.

    Each input's ``column``, in row order, is a vector of ``length`` elements
    bounded by ``bound`` in absolute value; the result party learns only the
    element-wise sum (exact, no DP) and who contributed. Read it with
    :func:`decode_vector`. See
    :mod:`insitu.node.federation.vector_sum_computation`.

    Parameters
    ----------
    inputs:
        ``(node name, dataset)`` of every input party (one dataset each).
    computing:
        2 or 3 computing nodes (may also be input nodes).
    result:
        The result node; default this node.
    quorum:
        Fewest inputs that must contribute; ``None``: all of them.
    frac_bits:
        Fixed-point fractional bits (default 16): each element is off by at
        most ``contributors × 2^-(frac_bits+1)``.
    share_timeout:
        Seconds computing parties wait for shares (the protocol's ``timeout``).
    """
    result = result or str(node.info["name"])
    params: dict[str, Any] = {"column": column, "length": int(length), "bound": float(bound)}
    for name, val in (("quorum", quorum), ("frac_bits", frac_bits), ("timeout", share_timeout)):
        if val is not None:
            params[name] = val
    roles = _aggregation_roles(inputs, computing, result)
    spec = {
        "collab_id": collab_id or _new_id("vector-sum"),
        "computation": "secure_vector_sum",
        "parameters": params,
        "parties": _parties(directory(node, peers, url), roles, {n: [d] for n, d in inputs}),
        "privacy_costs": _costs(list(inputs), None),
        "result_parties": [result],
        "timeout_seconds": timeout,
    }
    return node.collaborations.propose(spec)


def decode_vector(result: Mapping[str, Any]) -> npt.NDArray[np.float64]:
    """The sum vector of a ``secure_vector_sum`` result, as a float64 array.

    ``result`` is what ``collaborations.result(...)`` returns (with its blobs
    fetched, the default).
    """
    raw = result.get("sum")
    if result.get("encoding") != "float64-le" or not isinstance(raw, bytes):
        raise InvalidInput(
            "not a secure_vector_sum result with its blobs fetched (no float64 'sum' bytes)"
        )
    if len(raw) % 8:
        raise InvalidInput(f"the sum has {len(raw)} bytes, not a whole number of float64")
    values = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    if values.size != int(result.get("length", -1)):
        raise InvalidInput(
            f"the sum has {values.size} elements, the result says {result.get('length')}"
        )
    return values


__all__ = ["decode_vector", "directory", "psi", "secure_stats", "secure_vector_sum"]
