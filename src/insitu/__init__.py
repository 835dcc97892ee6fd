"""insitu: compute on data that must not be shared."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from insitu.errors import InsituError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from insitu.client import NodeClient
    from insitu.client.recipes import decode_vector, psi, secure_stats, secure_vector_sum


def connect(
    url: str | None = None,
    *,
    token: str | None = None,
    verify: bool | str | Path = True,
    timeout: float = 30.0,
) -> NodeClient:
    """Connect to a node as the member owning ``token``; see :func:`insitu.client.connect`.

    ``url`` and ``token`` default to ``$INSITU_URL`` and ``$INSITU_TOKEN``.
    The client package is imported on first use, so ``import insitu`` stays light.
    """
    from insitu.client import connect as _connect

    return _connect(url, token=token, verify=verify, timeout=timeout)


#: Client classes importable from ``insitu`` directly, loaded on first use.
_CLIENT_NAMES = ("Dataset", "IssuedToken", "NodeClient", "Request", "RequestDenied")
#: Multi-party recipes importable from ``insitu`` directly.
_RECIPES = ("psi", "secure_stats", "secure_vector_sum", "decode_vector")


def __getattr__(name: str) -> object:
    """``insitu.psi`` and the other recipes (:mod:`insitu.client.recipes`), lazily."""
    if name in _RECIPES:
        from insitu.client import recipes

        return getattr(recipes, name)
    if name in _CLIENT_NAMES:
        import insitu.client

        return getattr(insitu.client, name)
    raise AttributeError(f"module 'insitu' has no attribute {name!r}")


__all__ = [
    "InsituError",
    "__version__",
    "connect",
    "decode_vector",
    "psi",
    "secure_stats",
    "secure_vector_sum",
    *_CLIENT_NAMES,
]
