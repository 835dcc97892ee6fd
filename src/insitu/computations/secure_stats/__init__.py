"""Secure multi-party statistics: counts, moments, histograms, quantiles, regressions."""

from insitu.computations.secure_stats.receipt import Receipt, SecureStatsResult
from insitu.computations.secure_stats.results import Regression
from insitu.computations.secure_stats.run import (
    check_spec,
    run_secure_stats,
    simulate,
    simulate_all,
)
from insitu.computations.secure_stats.spec import (
    Count,
    CrossTable,
    DpOption,
    Histogram,
    Logistic,
    Mean,
    Ols,
    Quantiles,
    SecureStatsSpec,
    Sum,
    Variance,
)
from insitu.computations.secure_stats.vector_sum import VectorSumJob, run_vector_sum

__all__ = [
    "Count",
    "CrossTable",
    "DpOption",
    "Histogram",
    "Logistic",
    "Mean",
    "Ols",
    "Quantiles",
    "Receipt",
    "Regression",
    "SecureStatsResult",
    "SecureStatsSpec",
    "Sum",
    "Variance",
    "VectorSumJob",
    "check_spec",
    "run_secure_stats",
    "run_vector_sum",
    "simulate",
    "simulate_all",
]
