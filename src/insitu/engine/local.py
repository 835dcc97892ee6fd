"""LocalEngine: a process pool on this machine (the default engine)."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from insitu.engine.base import Engine, in_flight_limit
from insitu.errors import InvalidInput

C = TypeVar("C")
R = TypeVar("R")


def default_workers() -> int:
    """Cores this process may use (scheduler affinity where the OS has it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


class LocalEngine(Engine):
    """Process pool with ``workers`` processes (default: all usable cores).

    Parameters
    ----------
    workers:
        Number of worker processes; ``1`` runs kernels in the calling process.
    prefetch:
        Chunks in flight per worker; bounds memory to about
        ``workers · prefetch`` chunks and their results.
    start_method:
        ``multiprocessing`` start method; ``"spawn"`` by default, which is
        safe in threaded programs (the node, in-memory multi-party tests).
    """

    def __init__(
        self, workers: int | None = None, *, prefetch: int = 2, start_method: str = "spawn"
    ) -> None:
        count = default_workers() if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInput("workers must be a positive integer")
        self._workers = count
        self._limit = in_flight_limit(count, prefetch)
        self._pool: ProcessPoolExecutor | None = None
        self._start_method = start_method
        self._closed = False

    @property
    def workers(self) -> int:
        return self._workers

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("engine is closed")
        if self._pool is None:
            context = multiprocessing.get_context(self._start_method)
            self._pool = ProcessPoolExecutor(max_workers=self._workers, mp_context=context)
        return self._pool

    def map(self, kernel: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
        if self._workers == 1:
            if self._closed:
                raise RuntimeError("engine is closed")
            for chunk in chunks:
                yield kernel(chunk)
            return
        pool = self._executor()
        pending: deque[Future[R]] = deque()
        try:
            for chunk in chunks:
                pending.append(pool.submit(kernel, chunk))
                if len(pending) >= self._limit:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


__all__ = ["LocalEngine", "default_workers"]
