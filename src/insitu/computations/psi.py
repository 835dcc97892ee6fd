"""The ``psi`` recipe: two input parties run ECDH-PSI over a Channel, streaming their tables.

Roles: two input parties, the *receiver* and the *sender*. The result party
is the receiver (INTERSECTION, CARDINALITY, PAYLOAD) and, with
``reveal_to_both``, the sender too (INTERSECTION); in SUM mode the sender
(the value holder) is the result party for the sum and both learn the count.
What each party learns is stated in :meth:`PsiSpec.learns`; the protocol and
its threat model (semi-honest, DDH in ristretto255) are in
:mod:`insitu.protocols.psi.receiver`.

Tables stream in chunks of ``chunk_rows`` rows (CSV, Parquet, or in-memory),
keys are normalised as the spec declares, and the blinding kernels run on
the given :class:`~insitu.engine.Engine` (serially when none is given).
Messages are named ``psi/<kind>/<seq>``; a repeated or out-of-order chunk
aborts the run with :class:`~insitu.errors.ProtocolAbort`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from insitu.computations.channel import Channel
from insitu.crypto.normalise import KeyNormaliser
from insitu.crypto.rng import Rng, system_rng
from insitu.engine.base import Engine, SerialEngine
from insitu.engine.sources import Source, count_rows, iter_batches
from insitu.errors import InvalidInput
from insitu.protocols.psi import Mode, PsiReceiver, PsiSender, ReceiverOutput, SenderOutput
from insitu.protocols.psi import messages as m

_NAMES = {
    m.Kind.HELLO: "hello",
    m.Kind.SENDER_HELLO: "sender-hello",
    m.Kind.BLINDED: "blinded",
    m.Kind.SENDER_ITEMS: "sender-items",
    m.Kind.REBLINDED: "reblinded",
    m.Kind.AGGREGATE: "reply",
    m.Kind.MATCHES: "reply",
}


@dataclass(frozen=True)
class PsiSpec:
    """A PSI collaboration both parties approve.

    Parameters
    ----------
    mode:
        What is revealed (:class:`~insitu.protocols.psi.Mode`).
    receiver, sender:
        Party names on the channel.
    key:
        Key columns and their normalisation (same column names on both sides).
    reveal_to_both:
        INTERSECTION only: the sender also learns which of its rows matched.
    payload_columns:
        PAYLOAD only: sender columns the receiver obtains for matched rows.
    value_column:
        SUM only: the sender's non-negative integer column to sum.
    value_bits:
        SUM only: values must be below ``2^value_bits``.
    group_column, group_values:
        SUM only, optional: the receiver's categorical column and its declared
        categories (public, from the card); counts and sums come per category.
    chunk_rows:
        Rows per chunk and per message.
    """

    mode: Mode
    receiver: str
    sender: str
    key: KeyNormaliser
    reveal_to_both: bool = False
    payload_columns: tuple[str, ...] = ()
    value_column: str | None = None
    value_bits: int = 32
    group_column: str | None = None
    group_values: tuple[str, ...] = ()
    chunk_rows: int = 1 << 14

    def __post_init__(self) -> None:
        if self.receiver == self.sender:
            raise InvalidInput("receiver and sender must be different parties")
        if (self.mode is Mode.PAYLOAD) != bool(self.payload_columns):
            raise InvalidInput("payload_columns are required in PAYLOAD mode and only there")
        if (self.mode is Mode.SUM) != (self.value_column is not None):
            raise InvalidInput("value_column is required in SUM mode and only there")
        if self.reveal_to_both and self.mode is not Mode.INTERSECTION:
            raise InvalidInput("reveal_to_both applies to INTERSECTION mode only")
        if (self.group_column is None) != (not self.group_values):
            raise InvalidInput("group_column and group_values go together")
        if self.group_column is not None and self.mode is not Mode.SUM:
            raise InvalidInput("grouping applies to SUM mode only")
        if len(set(self.group_values)) != len(self.group_values):
            raise InvalidInput("group values must be distinct")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the collaboration spec every party approves."""
        return {
            "computation": "psi",
            "mode": self.mode.name.lower(),
            "receiver": self.receiver,
            "sender": self.sender,
            "key": self.key.to_dict(),
            "reveal_to_both": self.reveal_to_both,
            "payload_columns": list(self.payload_columns),
            "value_column": self.value_column,
            "value_bits": self.value_bits,
            "group_column": self.group_column,
            "group_values": list(self.group_values),
            "chunk_rows": self.chunk_rows,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PsiSpec:
        """Inverse of :meth:`to_dict`; :class:`InvalidInput` on anything malformed."""
        try:
            return cls(
                mode=Mode[str(data["mode"]).upper()],
                receiver=str(data["receiver"]),
                sender=str(data["sender"]),
                key=KeyNormaliser.from_dict(data["key"]),
                reveal_to_both=bool(data.get("reveal_to_both", False)),
                payload_columns=tuple(data.get("payload_columns", ())),
                value_column=data.get("value_column"),
                value_bits=int(data.get("value_bits", 32)),
                group_column=data.get("group_column"),
                group_values=tuple(data.get("group_values", ())),
                chunk_rows=int(data.get("chunk_rows", 1 << 14)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, InvalidInput):
                raise
            raise InvalidInput(f"malformed psi spec: {exc}") from None

    @property
    def input_parties(self) -> tuple[str, str]:
        """Both parties contribute a table."""
        return (self.receiver, self.sender)

    @property
    def roles(self) -> dict[str, str]:
        """Party name → role."""
        return {self.receiver: "receiver", self.sender: "sender"}

    @property
    def result_parties(self) -> tuple[str, ...]:
        """Parties that obtain an output beyond the other's set size."""
        if self.mode is Mode.SUM:
            return (self.receiver, self.sender)
        return (self.receiver, self.sender) if self.reveal_to_both else (self.receiver,)

    def learns(self) -> dict[str, str]:
        """Plain statement of what each party learns."""
        receiver = {
            Mode.INTERSECTION: "which of its rows have a key in the sender's table",
            Mode.CARDINALITY: "only how many distinct keys the two tables share",
            Mode.SUM: "only how many distinct keys the two tables share",
            Mode.PAYLOAD: "which of its rows match, and the sender's payload columns for them",
        }[self.mode]
        sender = "nothing beyond the receiver's row count"
        if self.reveal_to_both:
            sender = "which of its rows have a key in the receiver's table"
        if self.mode is Mode.SUM:
            sender = f"the count of shared keys and the sum of {self.value_column} over them"
            if self.group_column:
                sender += f", per {self.group_column} of the receiver"
                receiver += f", per {self.group_column}"
        return {
            self.receiver: f"{receiver}; plus the sender's row count",
            self.sender: f"{sender}; plus the receiver's row count",
        }

    def columns(self, role: str) -> list[str]:
        """Columns read from the table of ``role``."""
        cols = list(self.key.columns)
        if role == "receiver" and self.group_column is not None:
            cols.append(self.group_column)
        if role == "sender":
            cols += list(self.payload_columns)
            if self.value_column is not None:
                cols.append(self.value_column)
        return cols


@dataclass(frozen=True)
class PsiResult:
    """One party's outcome: the protocol output and, for payloads, decoded rows."""

    role: str
    output: ReceiverOutput | SenderOutput
    payload_rows: dict[int, dict[str, Any]] | None = None


def _send_all(channel: Channel, to: str, messages: Iterator[bytes], kind: m.Kind) -> None:
    for seq, data in enumerate(messages):
        channel.send(to, f"psi/{_NAMES[kind]}/{seq}", data)


def _stream(channel: Channel, peer: str, kind: m.Kind, timeout: float | None) -> Iterator[bytes]:
    seq = 0
    while True:
        data = channel.receive(peer, f"psi/{_NAMES[kind]}/{seq}", timeout=timeout)
        yield data
        if m.decode(data, expect=kind).last:
            return
        seq += 1


def _key_chunks(spec: PsiSpec, source: Source, columns: list[str]) -> Iterator[list[bytes]]:
    for batch in iter_batches(source, columns, rows=spec.chunk_rows):
        data = [batch.column(c).to_pylist() for c in spec.key.columns]
        yield [spec.key.key(row) for row in zip(*data, strict=True)]


def run_receiver(
    channel: Channel,
    spec: PsiSpec,
    source: Source,
    *,
    engine: Engine | None = None,
    rng: Rng = system_rng,
    timeout: float | None = None,
) -> PsiResult:
    """Run the receiver's side of ``spec`` on ``source``; see the module docstring."""
    engine = engine or SerialEngine()
    peer = spec.sender
    party = PsiReceiver(
        mode=spec.mode,
        reveal_to_both=spec.reveal_to_both,
        groups=len(spec.group_values),
        rng=rng,
        mapper=engine.map,
    )
    channel.send(peer, "psi/hello/0", party.hello())
    party.receive_sender_hello(channel.receive(peer, "psi/sender-hello/0", timeout=timeout))
    columns = spec.columns("receiver")
    chunks = _key_chunks(spec, source, columns)
    _send_all(channel, peer, party.blind(chunks, _groups(spec, source, columns)), m.Kind.BLINDED)
    party.receive_sender_items(_stream(channel, peer, m.Kind.SENDER_ITEMS, timeout))
    output = party.receive_reblinded(_stream(channel, peer, m.Kind.REBLINDED, timeout))
    reply = party.reply()
    if reply is not None:
        channel.send(peer, "psi/reply/0", reply)
    rows = None
    if output.payloads is not None:
        rows = {pos: json.loads(raw) for pos, raw in output.payloads.items()}
    return PsiResult("receiver", output, rows)


def run_sender(
    channel: Channel,
    spec: PsiSpec,
    source: Source,
    *,
    engine: Engine | None = None,
    rng: Rng = system_rng,
    timeout: float | None = None,
) -> PsiResult:
    """Run the sender's side of ``spec`` on ``source``; see the module docstring."""
    engine = engine or SerialEngine()
    peer = spec.receiver
    party = PsiSender(
        mode=spec.mode,
        size=count_rows(source),
        reveal_to_both=spec.reveal_to_both,
        value_bits=spec.value_bits,
        groups=len(spec.group_values),
        rng=rng,
        mapper=engine.map,
        chunk_size=spec.chunk_rows,
    )
    answer = party.receive_hello(channel.receive(peer, "psi/hello/0", timeout=timeout))
    channel.send(peer, "psi/sender-hello/0", answer)
    columns = spec.columns("sender")
    keys = _key_chunks(spec, source, columns)
    extras = _extras(spec, source, columns)
    _send_all(channel, peer, party.setup(keys, extras), m.Kind.SENDER_ITEMS)
    blinded = _stream(channel, peer, m.Kind.BLINDED, timeout)
    _send_all(channel, peer, party.reblind(blinded), m.Kind.REBLINDED)
    reply = channel.receive(peer, "psi/reply/0", timeout=timeout) if party.expects_reply else None
    return PsiResult("sender", party.finish(reply))


def _extras(spec: PsiSpec, source: Source, columns: list[str]) -> Iterator[list[Any]] | None:
    if spec.mode is Mode.PAYLOAD:
        return (
            [
                json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode()
                for row in batch.select(list(spec.payload_columns)).to_pylist()
            ]
            for batch in iter_batches(source, columns, rows=spec.chunk_rows)
        )
    if spec.mode is Mode.SUM:
        assert spec.value_column is not None
        return (
            [_as_int(v) for v in batch.column(spec.value_column).to_pylist()]
            for batch in iter_batches(source, columns, rows=spec.chunk_rows)
        )
    return None


def _groups(spec: PsiSpec, source: Source, columns: list[str]) -> Iterator[list[int]] | None:
    if spec.group_column is None:
        return None
    index = {value: i for i, value in enumerate(spec.group_values)}

    def lookup(value: Any) -> int:
        found = index.get(str(value))
        if found is None:
            raise InvalidInput(f"{spec.group_column} holds a value outside the declared groups")
        return found

    return (
        [lookup(v) for v in batch.column(spec.group_column).to_pylist()]
        for batch in iter_batches(source, columns, rows=spec.chunk_rows)
    )


def _as_int(value: Any) -> int:
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise InvalidInput("SUM values must be non-negative integers")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("SUM values must be non-negative integers")
    return value


__all__ = ["PsiResult", "PsiSpec", "run_receiver", "run_sender"]
