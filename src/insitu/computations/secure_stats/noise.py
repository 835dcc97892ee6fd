"""Distributed discrete Gaussian noise for secure statistics, and its ρ-zCDP cost.

Each computing party adds, to its share of the aggregate, its own discrete
Gaussian noise N_Z(0, σ_s²) on every slot ``s`` (drawn by OpenDP through
:mod:`insitu.dp.noise`), so the aggregate is never seen without noise. Each
party's noise alone is calibrated for the whole cost ρ, hence the guarantee
holds even if the result party colludes with all computing parties but one.
The price is m times the variance of a central mechanism (m computing parties).

Accounting (Canonne, Kamath & Steinke, "The Discrete Gaussian for
Differential Privacy", NeurIPS 2020; Bun & Steinke, TCC 2016): independent
N_Z(0, σ_s²) on coordinates that a neighbour moves by at most Δ_s costs
ρ = Σ_s Δ_s² / (2σ_s²) in zCDP; costs of blocks and rounds add up; adding more
independent noise is post-processing. A histogram-like block, where one row
touches one cell, has L2 sensitivity ``rows × cell bound`` and one σ for all
cells. Other blocks (moments, ZᵀZ, logistic gradient and Hessian) get one σ
per slot, proportional to that slot's sensitivity, so a slot on a fine grid is
not drowned by the noise a coarse slot needs.

Units: ρ in zCDP (nats); σ in grid units of each slot (2^-f of a real unit).
Neighbouring datasets differ by one privacy unit (add/remove), i.e. at most
``card.privacy_unit.max_rows`` rows (1 without a privacy unit). Encoding each
local sum may add one grid step of rounding per slot, counted in Δ_s. The
budget is split evenly over blocks × rounds; the total ρ must be charged to
every input dataset that contributed.
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


def slot_sensitivity(layout: Layout, block: Block) -> npt.NDArray[np.float64]:
    """Largest change of each encoded slot when one privacy unit comes or goes (grid units)."""
    rounding = 0.0 if block.exact else 1.0
    return rows_per_unit(layout) * block.grid_peaks + rounding


def sensitivity(layout: Layout, block: Block) -> float:
    """L2 sensitivity of a block's encoded local sum, in grid units."""
    if block.one_hot:  # k rows of one unit move cells by at most k · peak in total (L1 ≥ L2)
        rounding = 0.0 if block.exact else math.sqrt(block.size)
        return rows_per_unit(layout) * float(block.grid_peaks.max()) + rounding
    return float(np.sqrt(np.sum(slot_sensitivity(layout, block) ** 2)))


def sigmas(layout: Layout, rho: float) -> dict[str, npt.NDArray[np.float64]]:
    """σ per slot (grid units) so that all blocks over all rounds cost ``rho`` in total."""
    if not rho > 0:
        raise ValueError("rho must be positive")
    rho_each = rho / sum(b.rounds for b in layout.blocks)
    out: dict[str, npt.NDArray[np.float64]] = {}
    for b in layout.blocks:
        if b.one_hot:
            out[b.key] = np.full(b.size, sensitivity(layout, b) / math.sqrt(2.0 * rho_each))
        else:
            out[b.key] = slot_sensitivity(layout, b) * math.sqrt(b.size / (2.0 * rho_each))
    return out


def rho_spent(layout: Layout, sig: dict[str, npt.NDArray[np.float64]]) -> float:
    """The zCDP cost of adding noise with per-slot ``sig`` to every block in every round."""
    total = 0.0
    for b in layout.blocks:
        if b.one_hot:
            cost = sensitivity(layout, b) ** 2 / (2.0 * float(sig[b.key].min()) ** 2)
        else:
            cost = float(np.sum(slot_sensitivity(layout, b) ** 2 / (2.0 * sig[b.key] ** 2)))
        total += b.rounds * cost
    return total


def noise_share(layout: Layout, round_: int, rho: float) -> npt.NDArray[np.int64]:
    """One computing party's noise for ``round_``, aligned with the round's vector."""
    sig = sigmas(layout, rho)
    parts: list[npt.NDArray[np.int64]] = []
    for b in layout.round_blocks(round_):
        if b.one_hot:
            parts.append(discrete_gaussian(b.size, scale=float(sig[b.key][0])))
        else:
            parts.extend(discrete_gaussian(1, scale=float(s)) for s in sig[b.key])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def slack(layout: Layout, round_: int, rho: float | None, parties: int) -> npt.NDArray[np.float64]:
    """Per-slot tolerance (grid units) for the decoding range check of ``round_``."""
    blocks = layout.round_blocks(round_)
    inputs = float(len(layout.spec.input_parties))
    if rho is None:
        return np.full(sum(b.size for b in blocks), inputs)
    sig = sigmas(layout, rho)
    return np.concatenate([inputs + parties * TAIL_SIGMAS * sig[b.key] for b in blocks])


def noise_std(layout: Layout, rho: float, parties: int) -> dict[str, dict[str, float]]:
    """Standard deviation of the released noise, in real units: per block, or per slot."""
    sig = sigmas(layout, rho)
    out: dict[str, dict[str, float]] = {}
    for b in layout.blocks:
        real = math.sqrt(parties) * np.ldexp(sig[b.key], -np.array(b.frac_bits, dtype=np.int64))
        if b.one_hot:
            out[b.key] = {"noise_std": float(real[0])}
        else:
            out[b.key] = {
                f"noise_std:{label}": float(v) for label, v in zip(b.labels, real, strict=True)
            }
    return out


__all__ = [
    "noise_share",
    "noise_std",
    "rho_spent",
    "rows_per_unit",
    "sensitivity",
    "sigmas",
    "slack",
    "slot_sensitivity",
]
