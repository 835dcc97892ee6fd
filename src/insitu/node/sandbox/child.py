"""The sandbox child: set limits, load approved tables, lock down, run the function, report.

Started by :func:`insitu.node.sandbox.run_function` as
``python -I -B -m insitu.node.sandbox.child SPEC`` in a fresh process group
(and network namespace where possible). Order matters:

1. rlimits (CPU, address space, file size, no core dumps) — they cover
   loading the private tables too;
2. open the result and report files (descriptors kept for later);
3. import pandas/pyarrow and read each approved Parquet table;
4. Landlock (kernel file rules), then the audit hook (no more ``ctypes``);
5. compile and call the function with the tables as keyword arguments,
   with stdout/stderr captured and capped;
6. serialise the return value and write the report (JSON) last.

The report is written by a process that runs untrusted code: the parent
treats it as untrusted input and checks it.
"""

from __future__ import annotations

import io
import json
import linecache
import math
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from insitu.errors import InsituError
from insitu.node.sandbox.guard import make_hook, system_read_roots
from insitu.node.sandbox.landlock import LandlockUnavailable, restrict_self
from insitu.node.sandbox.outcome import Layer, OutputKind
from insitu.node.sandbox.serialise import serialise_result

SOURCE_NAME = "<custom code>"
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


class OutputLimitExceeded(Exception):
    """The code printed more than the output limit."""


class TableLoadFailed(Exception):
    """An approved table could not be read (damaged file, unsupported type)."""


class _Capture(io.TextIOBase):
    """A text stream that keeps the first ``keep`` bytes and fails past ``limit``."""

    def __init__(self, *, keep: int, limit: int) -> None:
        self._kept = bytearray()
        self._keep = keep
        self._limit = limit
        self.total = 0

    @property
    def exceeded(self) -> bool:
        return self.total > self._limit

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = str(text).encode("utf-8", "replace")
        self.total += len(data)
        room = self._keep - len(self._kept)
        if room > 0:
            self._kept += data[:room]
        if self.exceeded:
            raise OutputLimitExceeded(f"printed more than {self._limit} bytes")
        return len(text)

    def text(self) -> str:
        suffix = f"\n[… {self.total - len(self._kept)} more bytes]" if self.dropped else ""
        return self._kept.decode("utf-8", "replace") + suffix

    @property
    def dropped(self) -> bool:
        return self.total > len(self._kept)


def apply_limits(limits: dict[str, Any]) -> None:
    """Kernel limits for this process; the parent enforces wall-clock time."""
    cpu = max(1, math.ceil(limits["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(limits["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    files = int(limits["output_bytes"]) + 8 * int(limits["log_bytes"]) + (1 << 20)
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dump of private data
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over-size writes fail instead of killing


def load_tables(tables: dict[str, str]) -> dict[str, Any]:
    """Read each approved Parquet file into a DataFrame, by dataset name."""
    import pyarrow.parquet as pq

    frames = {}
    for name, path in tables.items():
        try:
            frames[name] = pq.read_table(path).to_pandas()
        except MemoryError:
            raise MemoryError(f"loading dataset {name!r} does not fit in memory_bytes") from None
        except Exception as exc:
            message = f"dataset {name!r} could not be loaded ({type(exc).__name__})"
            raise TableLoadFailed(message) from None
    return frames


def lock_down(spec: dict[str, Any], layers: list[str]) -> None:
    """Landlock when possible (required in strict mode), then the audit hook."""
    read = [*system_read_roots(), *spec["tables"].values()]
    write = [spec["tmp"]]
    if spec["landlock"] != "off":
        try:
            restrict_self(read_roots=read, write_roots=write)
            layers.append(Layer.LANDLOCK.value)
        except LandlockUnavailable:
            if spec["landlock"] == "require":
                raise
    sys.addaudithook(make_hook(read_roots=read, write_roots=write))
    layers.append(Layer.AUDIT_HOOK.value)


def compile_function(source: str, name: str) -> Callable[..., Any]:
    """Compile the checked source in a fresh namespace and return the function."""
    linecache.cache[SOURCE_NAME] = (len(source), None, source.splitlines(True), SOURCE_NAME)
    namespace: dict[str, Any] = {"__name__": "__custom__", "__builtins__": __builtins__}
    exec(compile(source, SOURCE_NAME, "exec"), namespace)  # noqa: S102 - the sandboxed code
    function = namespace.get(name)
    if not callable(function):
        raise TypeError(f"the source does not define a function {name!r}")
    return function  # type: ignore[no-any-return]


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception raised in the child."""
    try:
        message = str(exc)
    except Exception:
        message = "<message could not be printed>"
    if isinstance(exc, MemoryError):
        return f"memory limit exceeded ({type(exc).__name__}: {message})"
    if isinstance(exc, OutputLimitExceeded | TableLoadFailed | InsituError):
        return message  # raised by the sandbox itself: the message says it all
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def format_traceback(exc: BaseException) -> str:
    """The traceback without the sandbox's own frames (the code's and libraries' remain)."""
    try:
        summary = traceback.TracebackException.from_exception(exc)
        summary.stack = traceback.StackSummary.from_list(
            [f for f in summary.stack if not f.filename.startswith(_OWN_DIR)]
        )
        return "".join(list(summary.format())[-24:])
    except Exception:
        return ""


def run(spec: dict[str, Any], result_fd: int, meta_fd: int, meta: dict[str, Any]) -> None:
    """Steps 3-6; raises whatever went wrong, ``meta`` says how far it got."""
    limits = spec["limits"]
    frames = load_tables(spec["tables"])
    lock_down(spec, meta["layers"])
    write_meta(meta_fd, {**meta, "error": "the process ended before the function returned"})
    function = compile_function(spec["source"], spec["function"])
    out = _Capture(keep=limits["log_bytes"], limit=limits["output_bytes"])
    err = _Capture(keep=limits["log_bytes"], limit=limits["output_bytes"])
    meta["streams"] = (out, err)
    sys.stdout, sys.stderr = out, err
    try:
        value = function(**frames)
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    if out.exceeded or err.exceeded:
        raise OutputLimitExceeded(f"printed more than {limits['output_bytes']} bytes")
    kind, data = serialise_result(value, max_bytes=limits["output_bytes"])
    view = memoryview(data)
    while view:
        view = view[os.write(result_fd, view) :]
    meta["ok"], meta["kind"] = True, kind.value


def main(argv: list[str]) -> int:
    """Run the spec named in ``argv[1]``; exit 0 whenever a report was written."""
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    apply_limits(spec["limits"])
    meta_fd = os.open(spec["meta"], _FLAGS, 0o600)
    result_fd = os.open(spec["result"], _FLAGS, 0o600)
    meta: dict[str, Any] = {"ok": False, "kind": OutputKind.NONE.value, "error": None}
    meta["layers"] = [Layer.RLIMITS.value]
    try:
        run(spec, result_fd, meta_fd, meta)
    except BaseException as exc:  # the custom code may raise anything, SystemExit included
        meta["ok"], meta["kind"], meta["error"] = False, OutputKind.NONE.value, describe(exc)
        meta["traceback"] = format_traceback(exc)
    streams = meta.pop("streams", None)
    meta["stdout"], meta["stderr"] = ("", "") if streams is None else (s.text() for s in streams)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    meta["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    write_meta(meta_fd, meta)
    return 0


def write_meta(fd: int, meta: dict[str, Any]) -> None:
    """Replace the report: an early one after lock-down names the layers, the last one all."""
    os.ftruncate(fd, 0)
    data = json.dumps(meta).encode("utf-8")
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], done)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
