"""Differential privacy: OpenDP noise, mechanisms, accounting, budgets, post-processing.

* :mod:`insitu.dp.noise` — integer noise from OpenDP's exact samplers (the only source);
* :mod:`insitu.dp.mechanisms` — scales from ρ or ε, error bars, selection thresholds;
* :mod:`insitu.dp.accounting` — :class:`~insitu.dp.accounting.PrivacyCost`, ρ ↔ (ε, δ);
* :mod:`insitu.dp.budget` — caps, running totals, whether a charge fits (ledger arithmetic);
* :mod:`insitu.dp.postprocess` — non-negativity, rounding, suppression, margins (no cost).

Nothing here does I/O, reads the clock or uses global randomness.
"""
