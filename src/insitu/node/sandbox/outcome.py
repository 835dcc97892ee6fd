"""Resource limits for a sandboxed run and the outcome it reports back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from insitu.errors import InvalidInput

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What one run of custom code may use.

    Parameters
    ----------
    cpu_seconds:
        CPU time (user + system) before the kernel stops the child
        (``RLIMIT_CPU``).
    memory_bytes:
        Address space of the child (``RLIMIT_AS``). Python, pandas and
        pyarrow take about 350 MiB of it before any data is loaded.
    wall_seconds:
        Real time before the parent kills the child's whole process group.
    output_bytes:
        Largest result, and most text the code may print; also the largest
        file the child may write (``RLIMIT_FSIZE``).
    log_bytes:
        How much of stdout and stderr is kept for the outcome (the rest is
        counted and dropped).
    """

    cpu_seconds: float = 30.0
    memory_bytes: int = 2 * GIB
    wall_seconds: float = 60.0
    output_bytes: int = 64 * MIB
    log_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.cpu_seconds <= 0 or self.wall_seconds <= 0:
            raise InvalidInput("cpu_seconds and wall_seconds must be positive")
        if self.memory_bytes < 128 * MIB:
            raise InvalidInput("memory_bytes must be at least 128 MiB (Python needs it to start)")
        if self.output_bytes < 1 or self.log_bytes < 0:
            raise InvalidInput("output_bytes must be positive and log_bytes non-negative")


class OutputKind(StrEnum):
    """How the result bytes are encoded."""

    PARQUET = "parquet"  # a DataFrame (a Series becomes a one-column frame)
    JSON = "json"  # numbers, strings, booleans, None, lists and dicts
    NONE = "none"  # the run failed; there is no output


class Layer(StrEnum):
    """Confinement layers a run was under (see docs/custom-code.md)."""

    RLIMITS = "rlimits"  # kernel CPU, memory, file size, core limits
    AUDIT_HOOK = "audit_hook"  # in-process refusal of network, processes, files, ctypes
    NETWORK_NAMESPACE = "network_namespace"  # a fresh network namespace: no interfaces
    LANDLOCK = "landlock"  # kernel file-access rules (and TCP, signals on newer kernels)


@dataclass(frozen=True)
class SandboxOutcome:
    """What came back from one sandboxed run.

    Attributes
    ----------
    ok:
        True when the function returned a value that was serialised within
        the limits.
    output:
        The serialised result (empty when not ``ok``).
    output_kind:
        How ``output`` is encoded.
    stdout, stderr:
        What the code printed, cut to ``Limits.log_bytes`` each. Printed text
        comes from private data too: treat it like the result.
    error:
        When not ``ok``: the exception type and message raised in the child,
        or which limit stopped it. Never a traceback of the node.
    cpu_seconds, wall_seconds:
        Resources the child used.
    layers:
        The confinement layers that were in force.
    """

    ok: bool
    output: bytes
    output_kind: OutputKind
    stdout: str
    stderr: str
    error: str | None
    cpu_seconds: float
    wall_seconds: float
    layers: tuple[Layer, ...]
