"""RayEngine: the same kernels on a Ray cluster (optional extra ``insitu[ray]``).

Computations never import Ray; only this module does, and only when a
RayEngine is built.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from insitu.engine.base import Engine, in_flight_limit
from insitu.errors import InvalidInput

C = TypeVar("C")
R = TypeVar("R")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "RayEngine needs Ray: install the optional extra with pip install 'insitu[ray]'"
        ) from None
    return ray


def _call(kernel: Callable[[Any], Any], chunk: Any) -> Any:
    return kernel(chunk)


class RayEngine(Engine):
    """Maps kernels as Ray tasks.

    Parameters
    ----------
    address:
        Cluster address passed to ``ray.init`` (``None`` starts a local Ray
        instance); ignored when Ray is already initialised.
    workers:
        Tasks in flight at once (default: the cluster's CPU count).
    prefetch:
        Tasks in flight per worker.
    """

    def __init__(
        self, address: str | None = None, *, workers: int | None = None, prefetch: int = 2
    ) -> None:
        ray = _import_ray()
        self._ray = ray
        self._owns = not ray.is_initialized()
        if self._owns:
            # A local instance gets this interpreter's import path, so kernels defined
            # anywhere the caller can import resolve in the workers; cluster nodes must
            # have insitu installed instead.
            runtime_env = (
                {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
                if address is None
                else None
            )
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env=runtime_env,
            )
        count = workers if workers is not None else int(ray.cluster_resources().get("CPU", 1))
        if count < 1:
            raise InvalidInput("workers must be a positive integer")
        self._workers = count
        self._limit = in_flight_limit(count, prefetch)
        self._remote = ray.remote(_call)

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, kernel: Callable[[C], R], chunks: Iterable[C]) -> Iterator[R]:
        ray = self._ray
        kernel_ref = ray.put(kernel)
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(self._remote.remote(kernel_ref, chunk))
            if len(pending) >= self._limit:
                yield ray.get(pending.popleft())
        while pending:
            yield ray.get(pending.popleft())

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
            self._owns = False


__all__ = ["RayEngine"]
