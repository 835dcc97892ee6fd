"""Where heavy kernels run: :class:`Engine` and its implementations.

``LocalEngine`` (process pool, default) and ``RayEngine`` (optional extra,
imported lazily so that nothing here needs Ray).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from insitu.engine.base import Engine, SerialEngine
from insitu.engine.local import LocalEngine, default_workers

if TYPE_CHECKING:
    from insitu.engine.ray_engine import RayEngine


def __getattr__(name: str) -> Any:
    if name == "RayEngine":
        from insitu.engine.ray_engine import RayEngine

        return RayEngine
    raise AttributeError(name)


__all__ = ["Engine", "LocalEngine", "RayEngine", "SerialEngine", "default_workers"]
