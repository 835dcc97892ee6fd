"""The ``secure_stats`` collaboration: statistics over several nodes' datasets, never pooled.

The collaboration's parties keep their roles: every ``input`` party brings
one dataset, the ``computing`` parties (2 or 3) add up secret shares, the one
``result`` party computes the statistics. Parameters: ``card`` (the common
public card), ``statistics`` (as in :class:`SecureStatsSpec`), ``max_rows``,
and optionally ``quorum``, ``frac_bits`` and ``timeout`` (seconds the
computing parties wait for shares). Every node builds the same
:class:`SecureStatsSpec` from the collaboration spec; its job id is the
collaboration id.

One node may play several roles (an office holding data and computing). The
secure-statistics protocol wants one name per role, so each role is a party
of its own — the node's name for its input role, ``<node>:computing`` and
``<node>:result`` for the others — and :class:`RoleChannel` carries their
messages: between two roles of one node in memory, to another node over the
collaboration's channel with the two roles in the message id.

What each party learns, the threat model (semi-honest, non-colluding
computing parties) and the DP option: :mod:`insitu.computations.secure_stats`.
The result JSON carries the receipt (who contributed, who was left out, ρ,
precision) and that statement. DP: when every input dataset declares the same
``rho``, the job runs with ``DpOption(rho)``; ``epsilon`` costs are refused
(the noise is zCDP). Budget: an input party marks its release point (its
dataset is charged once) right before its shares leave.

Dropouts: with a ``quorum``, an input party whose rows break the card
declines, its node finishes its part without output, and the result's
receipt lists it under ``left_out``; an input node that is down when the
job runs sends nothing and is left out the same way once ``timeout`` passes
(the result party's word to it goes through a :class:`Courier`). Without a
quorum, every party fails.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from insitu.computations.channel import Channel, InMemoryHub
from insitu.computations.secure_stats import DpOption, SecureStatsResult, SecureStatsSpec
from insitu.computations.secure_stats import run_secure_stats as run_party
from insitu.computations.secure_stats.control import msg_id
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.psi_computation import ReleasingChannel, dp_cost

if TYPE_CHECKING:
    from insitu.node.federation.computations import CollabContext

log = logging.getLogger("insitu.collaborations")

#: Seconds the result waits for its word to reach the inputs before it is stored anyway.
COURIER_GRACE = 5.0

_TAGS = {"input": "i", "computing": "c", "result": "r"}

LEARNS = {
    "input": "the receipt only (for logistic regression also each Newton step's coefficients)",
    "computing": "one uniformly random share per input, who contributed, vector sizes",
    "result": "the statistics and the aggregate sums behind them (noised when DP is on)",
}


def role_names(spec: CollaborationSpec) -> dict[str, tuple[str, str]]:
    """Protocol party name → (node, role) for every role in ``spec``."""
    out: dict[str, tuple[str, str]] = {}
    for p in spec.parties:
        if "input" in p.roles:
            out[p.name] = (p.name, "input")
        if "computing" in p.roles:
            out[f"{p.name}:computing"] = (p.name, "computing")
    for name in spec.result_parties:
        out[f"{name}:result"] = (name, "result")
    return out


def stats_spec(spec: CollaborationSpec) -> SecureStatsSpec:
    """The secure-statistics job every party derives from the collaboration ``spec``."""
    params = dict(spec.parameters)
    if len(spec.result_parties) != 1:
        raise InvalidInput("secure_stats releases to exactly one result party")
    names = role_names(spec)
    for p in spec.parties:
        if "input" in p.roles and len(p.datasets) != 1:
            raise InvalidInput(f"input party {p.name!r} must bring exactly one dataset")
    cost = dp_cost(spec)
    if cost is not None and "rho" not in cost:
        raise InvalidInput("secure_stats noise is ρ-zCDP: declare rho for every input dataset")
    unknown = set(params) - {"card", "statistics", "max_rows", "quorum", "frac_bits", "timeout"}
    if unknown:
        raise InvalidInput(f"unknown secure_stats parameters: {sorted(unknown)}")
    data = {
        **params,
        "job_id": spec.collab_id,
        "input_parties": [n for n, (_, r) in names.items() if r == "input"],
        "computing_parties": [n for n, (_, r) in names.items() if r == "computing"],
        "result_party": f"{spec.result_parties[0]}:result",
        "dp": None if cost is None else DpOption(rho=cost["rho"]),
    }
    return SecureStatsSpec.parse(data)


class Courier:
    """Sends that the sender need not wait for, each on its own thread; :meth:`wait` joins them.

    The result party tells input parties the outcome (a receipt, or the next
    round's coefficients). An input node that went down before sharing is left
    out under a quorum, but a send to it blocks for the transport's whole retry
    deadline; waiting for it in line would make the computing parties give up
    on the result party meanwhile. A send that fails is logged: the input that
    missed its word times out by itself, and the output does not depend on it.
    """

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []

    def post(self, send: Callable[[], None], what: str) -> None:
        def run() -> None:
            try:
                send()
            except Exception as exc:
                log.warning("could not deliver %s: %s", what, exc)

        thread = threading.Thread(target=run, name=f"courier-{what}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))


class RoleChannel(Channel):
    """One role's end: in memory to this node's other roles, else over the node's channel.

    With a :class:`Courier`, the result role's messages to other nodes' input
    roles go through it instead of blocking the result role.
    """

    def __init__(
        self,
        me: str,
        names: dict[str, tuple[str, str]],
        node: Channel,
        local: InMemoryHub,
        courier: Courier | None = None,
    ) -> None:
        self.me = me
        self.parties = tuple(names)
        self.max_message_bytes = node.max_message_bytes
        self._names = names
        self._node = node
        self._local = local.channel(me)
        self._courier = courier

    def _wire_id(self, sender: str, receiver: str, msg_id: str) -> str:
        return f"{_TAGS[self._names[sender][1]]}{_TAGS[self._names[receiver][1]]}/{msg_id}"

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        self._check(to, payload)
        node = self._names[to][0]
        if node == self._node.me:
            self._local.send(to, msg_id, payload)
            return
        wire_id = self._wire_id(self.me, to, msg_id)
        if self._courier is not None and self._names[to][1] == "input":
            self._courier.post(lambda: self._node.send(node, wire_id, payload), wire_id)
        else:
            self._node.send(node, wire_id, payload)

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        if sender not in self._names:
            raise InvalidInput(f"unknown party {sender!r}")
        node = self._names[sender][0]
        if node == self._node.me:
            return self._local.receive(sender, msg_id, timeout=timeout)
        return self._node.receive(node, self._wire_id(sender, self.me, msg_id), timeout=timeout)


def play_each(names: list[str], play: Callable[[str], None], label: str) -> None:
    """Run ``play(name)`` for each of this node's roles on its own thread; wait for all."""
    threads = [threading.Thread(target=play, args=(n,), name=f"{label}-{n}") for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def jsonable(value: Any) -> Any:
    """Statistics as JSON: regressions as objects, numpy scalars as numbers, NaN as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _left_out(
    job: SecureStatsSpec, channel: Channel, timeout: float, exc: Exception
) -> Exception | None:
    """An input that declined under a quorum: wait for the result party's word, then end.

    The result party tells every left-out input that the job is done; ending
    this node's part before that message arrives would make this node refuse
    it and so abort the job for everyone. ``exc`` is returned when the word
    never comes.
    """
    try:
        channel.receive(job.result_party, msg_id(job.job_id, 0, "control"), timeout=timeout)
    except Exception:
        return exc
    return None


def run_secure_stats(ctx: CollabContext) -> dict[str, Any] | None:
    """Play every role of this node in a ``secure_stats`` collaboration; see the module doc."""
    job = stats_spec(ctx.spec)
    names = role_names(ctx.spec)
    mine = [n for n, (node, _) in names.items() if node == ctx.me]
    hub = InMemoryHub(mine, max_message_bytes=ctx.channel.max_message_bytes)
    courier = Courier()
    outcomes: dict[str, SecureStatsResult | BaseException | None] = {}
    lock = threading.Lock()

    def play(name: str) -> None:
        post = courier if names[name][1] == "result" else None
        channel: Channel = RoleChannel(name, names, ctx.channel, hub, post)
        table = None
        try:
            if names[name][1] == "input":
                shares = ReleasingChannel(channel, lambda m: m.endswith("/share"), ctx.on_release)
                channel = shares
                path = ctx.datasets.path(ctx.spec.party(ctx.me).datasets[0])
                table = pd.read_parquet(path)
            outcome: SecureStatsResult | BaseException | None = run_party(job, channel, table)
        except Exception as exc:  # re-raised below, after the other roles ended
            outcome = exc
            if names[name][1] == "input" and job.quorum is not None:
                outcome = _left_out(job, channel, ctx.timeout, exc)
        with lock:
            outcomes[name] = outcome

    play_each(mine, play, "secure-stats")
    courier.wait(min(ctx.timeout, COURIER_GRACE))  # an unreachable input need not delay the result
    for name in mine:
        outcome = outcomes[name]
        if isinstance(outcome, BaseException):
            raise outcome
    result_role = job.result_party
    if result_role not in mine:
        return None
    final = outcomes[result_role]
    assert isinstance(final, SecureStatsResult)
    receipt = final.receipt.to_dict()
    return {
        "statistics": jsonable(final.values or {}),
        "receipt": jsonable(receipt),
        "contributors": sorted(receipt["contributors"]),
        "left_out": list(receipt["left_out"]),
        "dp": None if job.dp is None else {"rho": job.dp.rho},
        "exact": job.dp is None,
        "learns": LEARNS,
    }


__all__ = [
    "RoleChannel",
    "jsonable",
    "play_each",
    "role_names",
    "run_secure_stats",
    "stats_spec",
]
