"""The ``secure_vector_sum`` collaboration: the element-wise sum of one column over several nodes.

Every ``input`` party brings one dataset whose numeric ``column``, read in
row order, is its vector; the vectors have the agreed ``length`` and every
element is bounded by ``bound`` in absolute value (checked at the input
before anything is shared). The ``computing`` parties (2 or 3) add up secret
shares; the one ``result`` party learns the element-wise sum over the
contributing inputs and who contributed. This suits tables whose rows are
already aggregates that line up across holders (cells of a fine grid, counts
per area code, model updates), not microdata: the sum is released exactly,
so the owners' approvals are the only output check. Privacy costs must be
declared ``exact``.

Parameters: ``column``, ``length``, ``bound``, and optionally ``frac_bits``
(fixed-point fractional bits, default 16), ``quorum`` and ``timeout``
(seconds the computing parties wait for shares). The job id is the
collaboration id; a node playing several roles runs each as a party of its
own through :class:`~insitu.node.federation.stats_computation.RoleChannel`.

What each party learns: see :mod:`insitu.computations.secure_stats.vector_sum`
(and :data:`LEARNS`). The result holds the sum as little-endian float64
bytes — kept beside the result's JSON as a blob (:mod:`insitu.federation.blobs`);
``insitu.decode_vector`` turns it into an array — its length, the
contributors, who was left out and the precision bound.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from insitu.computations.channel import Channel, InMemoryHub
from insitu.computations.secure_stats import VectorSumJob, rounds, run_vector_sum
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.psi_computation import ReleasingChannel
from insitu.node.federation.stats_computation import RoleChannel, play_each, role_names

if TYPE_CHECKING:
    from pathlib import Path

    from insitu.node.federation.computations import CollabContext

log = logging.getLogger("insitu.collaborations")

VECTOR_ENCODING = "float64-le"

LEARNS = {
    "input": "nothing (its part ends once its shares are sent)",
    "computing": "one uniformly random share per input, who contributed, the vector length",
    "result": "the element-wise sum over the contributing inputs, and who contributed",
}

_PARAMETERS = {"column", "length", "bound", "frac_bits", "quorum", "timeout"}


def vector_sum_job(spec: CollaborationSpec) -> VectorSumJob:
    """The vector-sum job every party derives from the collaboration ``spec``."""
    params = dict(spec.parameters)
    unknown = set(params) - _PARAMETERS
    if unknown:
        raise InvalidInput(f"unknown secure_vector_sum parameters: {sorted(unknown)}")
    if not isinstance(params.get("column"), str):
        raise InvalidInput("secure_vector_sum needs parameter 'column' (a column name)")
    if len(spec.result_parties) != 1:
        raise InvalidInput("secure_vector_sum releases to exactly one result party")
    if not all(c.exact for c in spec.privacy_costs):
        raise InvalidInput("secure_vector_sum releases exact sums: declare exact privacy costs")
    for p in spec.parties:
        if "input" in p.roles and len(p.datasets) != 1:
            raise InvalidInput(f"input party {p.name!r} must bring exactly one dataset")
    names = role_names(spec)
    try:
        length, bound = int(params["length"]), float(params["bound"])
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(
            "secure_vector_sum needs numeric parameters 'length' and 'bound'"
        ) from None
    extra: dict[str, Any] = {}
    for key in ("frac_bits", "quorum"):
        if params.get(key) is not None:
            extra[key] = int(params[key])
    if params.get("timeout") is not None:
        extra["timeout"] = float(params["timeout"])
    if not bound > 0:
        raise InvalidInput("parameter 'bound' must be positive")
    return VectorSumJob(
        job_id=spec.collab_id,
        input_parties=tuple(n for n, (_, r) in names.items() if r == "input"),
        computing_parties=tuple(n for n, (_, r) in names.items() if r == "computing"),
        result_party=f"{spec.result_parties[0]}:result",
        length=length,
        bound=bound,
        **extra,
    )


def read_vector(path: Path, column: str) -> npt.NDArray[np.float64]:
    """``column`` of the Parquet file at ``path`` as float64, in row order.

    Raises :class:`InvalidInput` for a missing or non-numeric column, or one
    with missing values (a vector has no gaps).
    """
    schema = pq.read_schema(path)
    if column not in schema.names:
        raise InvalidInput(f"the dataset has no column {column!r}")
    kind = schema.field(column).type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise InvalidInput(f"column {column!r} is {kind}, not numeric")
    values = pq.read_table(path, columns=[column]).column(column)
    if values.null_count:
        raise InvalidInput(f"column {column!r} has {values.null_count} missing values")
    out: npt.NDArray[np.float64] = np.asarray(values.to_numpy(), dtype=np.float64)
    return out


def encode_vector(values: npt.NDArray[np.float64]) -> bytes:
    """Little-endian float64 bytes of ``values`` (the result's ``sum``)."""
    return np.ascontiguousarray(values, dtype="<f8").tobytes()


def run_secure_vector_sum(ctx: CollabContext) -> dict[str, Any] | None:
    """Play every role of this node in a ``secure_vector_sum`` collaboration; see the module doc."""
    job = vector_sum_job(ctx.spec)
    names = role_names(ctx.spec)
    column = str(ctx.spec.parameters["column"])
    mine = [n for n, (node, _) in names.items() if node == ctx.me]
    hub = InMemoryHub(mine, max_message_bytes=ctx.channel.max_message_bytes)
    outcomes: dict[str, npt.NDArray[np.float64] | BaseException | None] = {}
    roster: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def play(name: str) -> None:
        channel: Channel = RoleChannel(name, names, ctx.channel, hub)
        vector = None
        outcome: npt.NDArray[np.float64] | BaseException | None
        try:
            if names[name][1] == "input":
                channel = ReleasingChannel(channel, lambda m: m.endswith("/share"), ctx.on_release)
                try:
                    path = ctx.datasets.path(ctx.spec.party(ctx.me).datasets[0])
                    vector = read_vector(path, column)
                except InvalidInput as exc:  # declines like an out-of-bounds vector
                    rounds.decline(job.roles(), channel, exc.code)
                    raise
            outcome = run_vector_sum(job, channel, vector, on_roster=roster.append)
        except Exception as exc:  # re-raised below, after the other roles ended
            outcome = exc
            if (
                names[name][1] == "input"
                and job.quorum is not None
                and isinstance(exc, InvalidInput)
            ):
                log.warning("%s declined under a quorum: %s", name, exc.message)
                outcome = None  # declined; the others go on without this input
        with lock:
            outcomes[name] = outcome

    play_each(mine, play, "vector-sum")
    for name in mine:
        outcome = outcomes[name]
        if isinstance(outcome, BaseException):
            raise outcome
    if job.result_party not in mine:
        return None
    total = outcomes[job.result_party]
    assert isinstance(total, np.ndarray) and roster
    contributors = sorted(names[n][0] for n in roster[-1])
    return {
        "sum": encode_vector(total),
        "encoding": VECTOR_ENCODING,
        "length": job.length,
        "column": column,
        "contributors": contributors,
        "left_out": sorted(
            names[n][0] for n in job.input_parties if names[n][0] not in contributors
        ),
        "max_abs_error": len(contributors) * 2.0 ** -(job.frac_bits + 1),
        "frac_bits": job.frac_bits,
        "exact": True,
        "learns": LEARNS,
    }


__all__ = [
    "LEARNS",
    "VECTOR_ENCODING",
    "encode_vector",
    "read_vector",
    "run_secure_vector_sum",
    "vector_sum_job",
]
