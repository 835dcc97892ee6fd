"""Distributed discrete Gaussian noise for secure statistics, and its ρ-zCDP cost.

Each computing party adds, to its share of the aggregate, its own discrete
Gaussian noise N_Z(0, σ_b²) per block ``b`` (drawn by OpenDP through
:mod:`insitu.dp.noise`), so the aggregate is never seen without noise. Each
party's noise alone is calibrated for the whole cost ρ, hence the guarantee
holds even if the result party colludes with all computing parties but one
(Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential Privacy",
NeurIPS 2020: N_Z(0, σ²) on a query of L2 sensitivity Δ is Δ²/(2σ²)-zCDP; adding
further independent noise is post-processing). The price is m times the
variance of a central mechanism, with m computing parties.

Units: ρ in zCDP (nats); σ in grid units of each block (2^-f of a real unit).
Neighbouring datasets differ by one privacy unit (add/remove), which changes
at most ``card.privacy_unit.max_rows`` rows (1 without a privacy unit). The
budget is split evenly over every block in every round; the total ρ must be
charged to every input dataset that contributed.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from insitu.computations.secure_stats.layout import Block, Layout
from insitu.dp.noise import discrete_gaussian

TAIL_SIGMAS = 12.0
"""Range checks allow each party's noise up to this many σ (failure odds below 1e-30)."""


def rows_per_unit(layout: Layout) -> int:
    """Rows one privacy unit may contribute."""
    unit = layout.card.privacy_unit
    return unit.max_rows if unit is not None else 1


def sensitivity(layout: Layout, block: Block) -> float:
    """L2 sensitivity of a block's encoded local sum, in grid units.

    One unit moves the encoded sum by at most ``rows × grid_l2``; encoding the
    local sum can add one grid step of rounding per slot.
    """
    rounding = 0.0 if block.exact else math.sqrt(block.size)
    return rows_per_unit(layout) * block.grid_l2 + rounding


def sigmas(layout: Layout, rho: float) -> dict[str, float]:
    """σ per block (grid units) so that all blocks over all rounds cost ``rho`` in total."""
    instances = sum(b.rounds for b in layout.blocks)
    rho_each = rho / instances
    return {b.key: sensitivity(layout, b) / math.sqrt(2.0 * rho_each) for b in layout.blocks}


def noise_share(layout: Layout, round_: int, rho: float) -> npt.NDArray[np.int64]:
    """One computing party's noise for ``round_``, aligned with the round's vector."""
    sig = sigmas(layout, rho)
    parts = [discrete_gaussian(b.size, scale=sig[b.key]) for b in layout.round_blocks(round_)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def slack(layout: Layout, round_: int, rho: float | None, parties: int) -> npt.NDArray[np.float64]:
    """Per-slot tolerance (grid units) for the decoding range check of ``round_``."""
    blocks = layout.round_blocks(round_)
    inputs = len(layout.spec.input_parties)
    sig = sigmas(layout, rho) if rho is not None else {}
    return np.concatenate(
        [np.full(b.size, inputs + parties * TAIL_SIGMAS * sig.get(b.key, 0.0)) for b in blocks]
    )


def noise_std(layout: Layout, rho: float, parties: int) -> dict[str, float]:
    """Standard deviation of the total noise per block, in real units (its coarsest slot)."""
    sig = sigmas(layout, rho)
    return {b.key: math.sqrt(parties) * sig[b.key] * 2.0**-b.min_frac_bits for b in layout.blocks}


__all__ = ["noise_share", "noise_std", "rows_per_unit", "sensitivity", "sigmas", "slack"]
