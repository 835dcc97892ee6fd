"""Run custom code requests on private tables in a confined child process.

The analyst's function is read by the owner (:func:`check_source`), tried on
the mock, and after approval run by :func:`run_function` on the private
tables with CPU, memory, wall-clock and output limits, no network, and only
the approved tables readable. See ``docs/custom-code.md``.
"""

from insitu.node.sandbox.outcome import Layer, Limits, OutputKind, SandboxOutcome
from insitu.node.sandbox.runner import run_function
from insitu.node.sandbox.source import FunctionInfo, check_source

__all__ = [
    "FunctionInfo",
    "Layer",
    "Limits",
    "OutputKind",
    "SandboxOutcome",
    "check_source",
    "run_function",
]
