"""Secure aggregation by additive secret sharing among 2–16 computing parties."""

from insitu.protocols.secure_aggregation.parties import (
    Reconstructor,
    ShareDealer,
    ShareHolder,
    Stage,
    abort_message,
)

__all__ = ["Reconstructor", "ShareDealer", "ShareHolder", "Stage", "abort_message"]
