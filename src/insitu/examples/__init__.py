"""Realistic example data made by insitu itself (nothing is downloaded).

Each generator writes CSV files plus card YAML files into a directory and
returns an :class:`~insitu.examples.files.ExampleSet` with their paths and the
true answers. All are deterministic for a given seed and take about a second.

- :func:`person_register` — a statistics office's person register (scenario 4).
- :func:`population_registers` — two countries' registers with a known overlap of
  cross-border workers, keyed by :func:`person_key` (scenario 1, PSI cardinality).
- :func:`trade_records` — exports recorded by A and imports recorded by B for shared
  enterprises (scenario 2, intersection-sum).
- :func:`hospital_records` — several hospitals' discharge records (scenario 3).
"""

from insitu.examples.files import ExampleSet, ExampleTable
from insitu.examples.hospitals import hospital_records
from insitu.examples.population import person_key, population_registers
from insitu.examples.register import person_register
from insitu.examples.trade import trade_records

__all__ = [
    "ExampleSet",
    "ExampleTable",
    "hospital_records",
    "person_key",
    "person_register",
    "population_registers",
    "trade_records",
]
