"""One contract suite for every Engine: order, errors, bounded prefetch, laziness."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial

import pytest

from insitu.engine import Engine, LocalEngine, SerialEngine
from insitu.errors import InvalidInput


def square(x: int) -> int:
    return x * x


def explode(x: int) -> int:
    if x == 3:
        raise InvalidInput("three is not allowed")
    return x


def tag_pid(x: int) -> tuple[int, int]:
    return x, os.getpid()


def make_ray() -> Engine:
    ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra insitu[ray])")
    from insitu.engine import RayEngine

    assert ray is not None
    return RayEngine(workers=2)


ENGINES = {
    "serial": SerialEngine,
    "local-1": partial(LocalEngine, 1),
    "local-2": partial(LocalEngine, 2),
    "ray": make_ray,
}


@pytest.fixture(params=list(ENGINES), scope="module")
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "ray":
        request.applymarker(pytest.mark.slow)
    made = ENGINES[request.param]()
    yield made
    made.close()


def test_results_come_back_in_input_order(engine: Engine) -> None:
    assert list(engine.map(square, range(50))) == [x * x for x in range(50)]
    assert list(engine.map(square, [])) == []


def test_kernel_errors_reach_the_caller(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="three"):
        list(engine.map(explode, range(10)))
    assert list(engine.map(square, [2])) == [4]  # still usable afterwards


def test_chunks_are_consumed_lazily(engine: Engine) -> None:
    pulled: list[int] = []

    def source() -> Iterator[int]:
        for i in range(1000):
            pulled.append(i)
            yield i

    results = engine.map(square, source())
    assert next(results) == 0
    assert len(pulled) <= 4 * max(1, engine.workers) + 1
    results.close()


def test_workers_is_positive(engine: Engine) -> None:
    assert engine.workers >= 1


def test_local_engine_uses_other_processes() -> None:
    with LocalEngine(2) as engine:
        pids = {pid for _, pid in engine.map(tag_pid, range(8))}
    assert os.getpid() not in pids


def test_local_engine_refuses_bad_worker_counts_and_use_after_close() -> None:
    with pytest.raises(InvalidInput):
        LocalEngine(0)
    engine = LocalEngine(2)
    engine.close()
    with pytest.raises(RuntimeError):
        list(engine.map(square, [1]))


def test_psi_kernels_give_the_same_answer_on_every_engine(engine: Engine) -> None:
    from insitu.protocols.psi import Mode, PsiReceiver, PsiSender

    x = [f"k{i}".encode() for i in range(40)]
    y = [f"k{i}".encode() for i in range(25, 70)]
    receiver = PsiReceiver(mode=Mode.INTERSECTION, mapper=engine.map)
    sender = PsiSender(mode=Mode.INTERSECTION, size=len(y), mapper=engine.map)
    receiver.receive_sender_hello(sender.receive_hello(receiver.hello()))
    blinded = list(receiver.blind(x[i : i + 8] for i in range(0, len(x), 8)))
    receiver.receive_sender_items(list(sender.setup(y[i : i + 8] for i in range(0, len(y), 8))))
    out = receiver.receive_reblinded(list(sender.reblind(blinded)))
    assert out.matched == list(range(25, 40))
