"""The Engine: maps a pure kernel over chunks, somewhere (this process, a pool, a cluster)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TypeVar

C = TypeVar("C")
R = TypeVar("R")


class Engine(ABC):
    """Runs heavy, pure kernels over chunks of data.

    Implementations MUST yield results in the order of ``chunks``, MUST
    propagate a kernel's exception to the caller (the first one, in order),
    MUST keep at most a bounded number of chunks in flight so memory stays
    bounded for long inputs, and MUST NOT require the caller to import the
    engine's backend. Kernels MUST be picklable and free of side effects.
    """

    @property
    @abstractmethod
    def workers(self) -> int:
        """How many kernels may run at once."""

    @abstractmethod
    def map(self, kernel: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
        """Apply ``kernel`` to each chunk; yield the results in input order."""

    def close(self) -> None:  # noqa: B027 - optional hook, most engines need nothing
        """Release workers; the engine cannot be used afterwards."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialEngine(Engine):
    """Runs every kernel in the calling process, one after another (tests, tiny inputs)."""

    @property
    def workers(self) -> int:
        return 1

    def map(self, kernel: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
        for chunk in chunks:
            yield kernel(chunk)


def in_flight_limit(workers: int, prefetch: int) -> int:
    """Chunks kept in flight: ``prefetch`` per worker, at least one."""
    return max(1, workers * max(1, prefetch))


__all__ = ["Engine", "SerialEngine", "in_flight_limit"]
