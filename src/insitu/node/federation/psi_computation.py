"""The ``psi`` collaboration: ECDH-PSI between two nodes' datasets, DP on counts and sums.

Parameters of the collaboration spec are :meth:`PsiSpec.to_dict` (mode,
``receiver``, ``sender``, key normalisation, …) plus, optionally,
``value_scale`` (SUM: a float value column is multiplied by it and rounded to
an integer, e.g. 100 for cents) and ``value_bound`` (SUM with DP: the largest
scaled value one row may hold, the sensitivity; default ``2^value_bits - 1``).
The receiver and the sender are the collaboration's two input parties, each
with exactly one dataset.

Who learns what (semi-honest parties, DDH in ristretto255; see
:mod:`insitu.computations.psi`): the *learner* — the receiver, or the sender
in SUM mode — obtains the protocol's output inside its node and releases it
to the result parties. The other party's node learns the other table's row
count only, except as ``reveal_to_both`` or SUM mode say. The result JSON
holds :meth:`PsiSpec.learns`, so every result states this.

Differential privacy: when the spec's privacy costs of both input datasets
are the same ``epsilon`` (pure, no ``delta``) or the same ``rho``, the
learner adds noise before anything leaves it — discrete Laplace of scale
Δ/ε (via :mod:`insitu.protocols.psi.release`) or discrete Gaussian of σ =
Δ/√(2ρ) (ρ-zCDP, ρ in nats) — with Δ = 1 for the count and ``value_bound``
for the sum (each privacy unit contributes at most one distinct key per
table). Count and sum released together each get half of the cost (basic
composition). Per-group outputs compose in parallel (one key, one group).
Only CARDINALITY and SUM take DP; the other modes need ``exact: true``.
The learner's node sees the exact figure in memory: the other owner trusts
that node to add the noise, as with any DP release by a data holder.

Engine: a party whose table has at least :data:`ENGINE_MIN_ROWS` rows runs
its blinding kernels on a :class:`~insitu.engine.LocalEngine` (one spawned
process per core, on the node's own machine, holding its blinding scalar
while they run); smaller tables are blinded in the node's process.

Budget: each party marks its release point (the node then charges its
input dataset, once) right before its first message derived from its rows
leaves — the receiver's blinded keys, the sender's tagged items. Row counts
exchanged before that are treated as public.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from insitu.computations.channel import Channel
from insitu.computations.psi import PsiResult, PsiSpec, run_receiver, run_sender
from insitu.dp.noise import add_discrete_gaussian
from insitu.engine.local import LocalEngine, default_workers
from insitu.engine.sources import count_rows
from insitu.errors import InvalidInput, ProtocolAbort
from insitu.federation.spec import CollaborationSpec
from insitu.protocols.psi import Mode
from insitu.protocols.psi.release import noisy_cardinality, noisy_sum

if TYPE_CHECKING:
    from insitu.node.federation.computations import CollabContext

RELEASE_MSG = "psi/release/0"

#: Tables of at least this many rows are blinded on a process pool of all cores.
ENGINE_MIN_ROWS = 1 << 16


def once(hook: Callable[[], None]) -> Callable[[], None]:
    """``hook`` wrapped so that only its first call runs (the release point is marked once)."""
    lock = threading.Lock()
    done = [False]

    def call() -> None:
        with lock:
            if done[0]:
                return
            done[0] = True
        hook()

    return call


class ReleasingChannel(Channel):
    """A channel that marks the release point before the first message ``releases(msg_id)``."""

    def __init__(
        self, inner: Channel, releases: Callable[[str], bool], on_release: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._releases = releases
        self._on_release = once(on_release)
        self.me = inner.me
        self.parties = inner.parties
        self.max_message_bytes = inner.max_message_bytes

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        if self._releases(msg_id):
            self._on_release()
        self._inner.send(to, msg_id, payload)

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        return self._inner.receive(sender, msg_id, timeout=timeout)


def dp_cost(spec: CollaborationSpec) -> dict[str, float] | None:
    """The one DP cost shared by every input dataset (``{"epsilon": ε}`` or ``{"rho": ρ}``).

    ``None`` when every input dataset is released exactly. Mixed or differing
    costs raise :class:`InvalidInput`: the noise is added once, so it must
    meet one declared cost for all of them.
    """
    costs = spec.privacy_costs
    if all(c.exact for c in costs):
        return None
    kinds = {(c.exact, c.epsilon, c.delta, c.rho) for c in costs}
    if len(kinds) != 1:
        raise InvalidInput("every input dataset must declare the same privacy cost")
    cost = costs[0]
    if cost.rho is not None:
        return {"rho": float(cost.rho)}
    if cost.delta is not None:
        raise InvalidInput("PSI noise is pure ε-DP: declare epsilon without delta, or rho")
    return {"epsilon": float(cost.epsilon or 0.0)}


def _gaussian(value: int, *, sensitivity: float, rho: float) -> int:
    """``value`` plus discrete Gaussian noise of σ = Δ/√(2ρ): ρ-zCDP (Canonne et al. 2020)."""
    if not math.isfinite(rho) or rho <= 0:
        raise InvalidInput("rho must be finite and positive")
    return int(add_discrete_gaussian([value], scale=sensitivity / math.sqrt(2 * rho))[0])


def _noisy(value: int, *, sensitivity: int, cost: dict[str, float], share: float) -> int:
    if "rho" in cost:
        return _gaussian(value, sensitivity=sensitivity, rho=cost["rho"] * share)
    eps = cost["epsilon"] * share
    if sensitivity == 1:
        return noisy_cardinality(value, epsilon=eps)
    return noisy_sum(value, epsilon=eps, value_bound=sensitivity)


def _check(ctx: CollabContext, psi: PsiSpec) -> None:
    spec = ctx.spec
    inputs = {p.name: p for p in spec.parties if "input" in p.roles}
    if set(inputs) != {psi.receiver, psi.sender}:
        raise InvalidInput("the receiver and the sender must be the only input parties")
    for p in inputs.values():
        if len(p.datasets) != 1:
            raise InvalidInput(f"party {p.name!r} must bring exactly one dataset")
    learner = psi.sender if psi.mode is Mode.SUM else psi.receiver
    allowed = {learner}
    if psi.mode in (Mode.CARDINALITY, Mode.SUM):
        allowed = {psi.receiver, psi.sender}
    elif psi.reveal_to_both:
        allowed.add(psi.sender)
    if not set(spec.result_parties) <= allowed:
        raise InvalidInput(f"in {psi.mode.name} mode results may go to {sorted(allowed)} only")
    if dp_cost(spec) is not None and psi.mode not in (Mode.CARDINALITY, Mode.SUM):
        raise InvalidInput(f"{psi.mode.name} outputs are row-level: declare exact: true")


def _source(ctx: CollabContext, psi: PsiSpec, role: str) -> Any:
    """This party's table: the Parquet path, or (SUM, float values) a scaled integer copy."""
    path = ctx.datasets.path(ctx.spec.party(ctx.me).datasets[0])
    if role != "sender" or psi.value_column is None:
        return str(path)
    schema = pq.read_schema(path)
    if pa.types.is_integer(schema.field(psi.value_column).type):
        return str(path)
    scale = ctx.spec.parameters.get("value_scale", 1)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0:
        raise InvalidInput("value_scale must be a positive number")
    table = pq.read_table(path, columns=psi.columns("sender"))
    values = pc.round(pc.multiply(table.column(psi.value_column).cast(pa.float64()), scale))
    if values.null_count or (len(values) and pc.min(values).as_py() < 0):
        raise InvalidInput(f"{psi.value_column} holds missing or negative values")
    index = table.schema.get_field_index(psi.value_column)
    return table.set_column(index, psi.value_column, values.cast(pa.int64()))


def _release(
    psi: PsiSpec, result: PsiResult, cost: dict[str, float] | None, bound: int
) -> dict[str, Any]:
    """The learner's output, noised when ``cost`` is given."""
    out = result.output
    body: dict[str, Any] = {"mode": psi.mode.name.lower()}
    if psi.mode is Mode.SUM:
        counts = out.group_counts or [int(out.cardinality or 0)]
        totals = getattr(out, "group_totals", None) or [int(getattr(out, "total", 0) or 0)]
        if cost is not None:
            counts = [_noisy(c, sensitivity=1, cost=cost, share=0.5) for c in counts]
            totals = [_noisy(t, sensitivity=bound, cost=cost, share=0.5) for t in totals]
        body["cardinality"], body["total"] = sum(counts), sum(totals)
        if psi.group_column is not None:
            body["groups"] = {
                g: {"cardinality": c, "total": t}
                for g, c, t in zip(psi.group_values, counts, totals, strict=True)
            }
        return body
    count = int(out.cardinality) if out.cardinality is not None else len(out.matched or [])
    body["cardinality"] = (
        count if cost is None else _noisy(count, sensitivity=1, cost=cost, share=1)
    )
    if out.matched is not None:
        body["matched_rows"] = sorted(out.matched)
    if result.payload_rows is not None:
        body["payloads"] = {str(k): v for k, v in sorted(result.payload_rows.items())}
    return body


def _value_bound(psi: PsiSpec, params: dict[str, Any]) -> int:
    """The sum's sensitivity: ``value_bound``, or the largest value ``value_bits`` allow."""
    bound = params.get("value_bound", (1 << psi.value_bits) - 1)
    if isinstance(bound, bool) or not isinstance(bound, int) or bound < 1:
        raise InvalidInput("value_bound must be a positive integer")
    return bound


def run_psi(ctx: CollabContext) -> dict[str, Any] | None:
    """Play this node's part of a ``psi`` collaboration; the output at result parties."""
    params = dict(ctx.spec.parameters)
    psi = PsiSpec.from_dict(params)
    _check(ctx, psi)
    bound = _value_bound(psi, params)
    cost = dp_cost(ctx.spec)
    role = psi.roles[ctx.me]
    first = "psi/blinded/" if role == "receiver" else "psi/sender-items/"
    channel = ReleasingChannel(ctx.channel, lambda m: m.startswith(first), ctx.on_release)
    source = _source(ctx, psi, role)
    run = run_receiver if role == "receiver" else run_sender
    own_rows = count_rows(source)
    engine = LocalEngine() if own_rows >= ENGINE_MIN_ROWS and default_workers() > 1 else None
    try:
        result = run(channel, psi, source, engine=engine, timeout=ctx.timeout)
    finally:
        if engine is not None:
            engine.close()
    learner = psi.sender if psi.mode is Mode.SUM else psi.receiver
    results = ctx.spec.result_parties
    if ctx.me == learner or (psi.mode is Mode.INTERSECTION and ctx.me in results):
        body = {**_release(psi, result, cost, bound), **_sizes(result, own_rows)}
        for party in results:
            if party != ctx.me and psi.mode in (Mode.CARDINALITY, Mode.SUM):
                ctx.channel.send(party, RELEASE_MSG, json.dumps(body).encode())
    elif ctx.me in results:
        raw = ctx.channel.receive(learner, RELEASE_MSG, timeout=ctx.timeout)
        try:
            body = dict(json.loads(raw))
        except (ValueError, TypeError):
            raise ProtocolAbort("malformed PSI release from the learner") from None
    else:
        return None
    if ctx.me not in results:
        return None
    return {
        **body,
        "receiver": psi.receiver,
        "sender": psi.sender,
        "dp": cost,
        "exact": cost is None,
        "learns": learns(psi, learner, results, cost),
    }


def learns(
    psi: PsiSpec, learner: str, results: Sequence[str], cost: dict[str, float] | None
) -> dict[str, str]:
    """:meth:`PsiSpec.learns`, plus the released output a result party got from the learner."""
    out = psi.learns()
    released = "the released cardinality" + (" and sum" if psi.mode is Mode.SUM else "")
    released += " (with DP noise)" if cost is not None else " (exact)"
    for party in results:
        if party != learner and psi.mode in (Mode.CARDINALITY, Mode.SUM):
            out[party] += f"; then, as a result party, {released} from {learner}"
    return out


def _sizes(result: PsiResult, own_rows: int) -> dict[str, int]:
    """Both tables' row counts, which both parties learn in every mode."""
    out = result.output
    if result.role == "receiver":
        return {"receiver_rows": own_rows, "sender_rows": int(getattr(out, "sender_size", 0))}
    return {"receiver_rows": int(getattr(out, "receiver_size", 0)), "sender_rows": own_rows}


__all__ = ["ReleasingChannel", "dp_cost", "once", "run_psi"]
