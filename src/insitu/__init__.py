"""insitu: compute on data that must not be shared."""

from typing import TYPE_CHECKING, Any

from insitu.errors import InsituError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from insitu.client import NodeClient


def connect(url: str | None = None, **options: Any) -> "NodeClient":
    """Connect to a node; see :func:`insitu.client.connect` (imported on first use)."""
    from insitu.client import connect as _connect

    return _connect(url, **options)


__all__ = ["InsituError", "__version__", "connect"]
