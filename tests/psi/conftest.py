"""Run both PSI parties in one process, keeping every message for tampering tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from insitu.protocols.psi import Mode, PsiReceiver, PsiSender, ReceiverOutput, SenderOutput


def chunked(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class Transcript:
    receiver: PsiReceiver
    sender: PsiSender
    hello: bytes = b""
    sender_hello: bytes = b""
    blinded: list[bytes] = field(default_factory=list)
    sender_items: list[bytes] = field(default_factory=list)
    reblinded: list[bytes] = field(default_factory=list)


def start(
    x: Sequence[bytes],
    y: Sequence[bytes],
    mode: Mode,
    *,
    extras: Sequence[Any] | None = None,
    both: bool = False,
    chunk: int = 4,
) -> Transcript:
    """Run the protocol up to (not including) the receiver's last two steps."""
    r = PsiReceiver(mode=mode, reveal_to_both=both)
    s = PsiSender(mode=mode, size=len(y), reveal_to_both=both, chunk_size=chunk)
    t = Transcript(r, s)
    t.hello = r.hello()
    t.sender_hello = s.receive_hello(t.hello)
    r.receive_sender_hello(t.sender_hello)
    t.blinded = list(r.blind(chunked(x, chunk)))
    ex = None if extras is None else chunked(extras, chunk)
    t.sender_items = list(s.setup(chunked(y, chunk), ex))
    t.reblinded = list(s.reblind(t.blinded))
    return t


def run(*args: Any, **kwargs: Any) -> tuple[ReceiverOutput, SenderOutput]:
    """Run the whole protocol; arguments as for :func:`start`."""
    t = start(*args, **kwargs)
    t.receiver.receive_sender_items(t.sender_items)
    out = t.receiver.receive_reblinded(t.reblinded)
    return out, t.sender.finish(t.receiver.reply())


@pytest.fixture(scope="session")
def psi_run() -> Callable[..., tuple[ReceiverOutput, SenderOutput]]:
    return run


@pytest.fixture(scope="session")
def psi_start() -> Callable[..., Transcript]:
    return start
