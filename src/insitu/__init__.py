"""insitu: compute on data that must not be shared."""

from insitu.errors import InsituError

__version__ = "0.1.0"

__all__ = ["InsituError", "__version__"]
