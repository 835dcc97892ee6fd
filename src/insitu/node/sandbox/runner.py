"""Run approved custom code on private tables in a confined child process.

Layers, strongest first (``docs/custom-code.md`` says what each guarantees):

* **kernel limits** — ``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE``,
  ``RLIMIT_CORE=0`` set by the child on itself before it reads any data; the
  parent kills the child's whole process group at the wall-clock limit;
* **network namespace** — the child starts under ``unshare --net`` when the
  host permits it: no network interface at all;
* **Landlock** — kernel file rules: read-only Python installation and
  approved tables, read/write temporary directory, nothing else; no TCP, no
  signals outside (depending on the kernel's ABI);
* **audit hook** — refuses sockets, process creation, ``ctypes`` and opening
  other files at the Python level, with clear errors.

The child is started with ``python -I`` (no user site, no ``PYTHON*``
variables), an environment holding only locale, thread-count and temp-dir
settings, stdin from ``/dev/null``, and its own temporary directory as cwd,
which is deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from insitu.errors import ExecutionFailed, InvalidInput
from insitu.node.sandbox.netns import network_namespace_prefix
from insitu.node.sandbox.outcome import Layer, Limits, OutputKind, SandboxOutcome
from insitu.node.sandbox.source import check_source

Mode = Literal["auto", "require", "off"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_LAYER_NAMES = {layer.value for layer in Layer}
_CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS}


def run_function(
    source: str,
    *,
    tables: Mapping[str, Path],
    limits: Limits = Limits(),
    workdir: Path,
    network_namespace: Mode = "auto",
    landlock: Mode = "auto",
) -> SandboxOutcome:
    """Call the function in ``source`` with each approved table as a DataFrame.

    Parameters
    ----------
    source:
        Exactly one function (see :func:`check_source`); its parameter names
        must be the keys of ``tables``.
    tables:
        Approved dataset name → its Parquet file. Only these files are
        readable by the code.
    limits:
        CPU, memory, wall-clock and output limits.
    workdir:
        Directory under which a fresh temporary directory is made for the
        run and removed afterwards.
    network_namespace, landlock:
        ``"auto"`` uses the layer where the host allows it, ``"require"``
        fails the run (``ExecutionFailed`` or a failed outcome) where it does
        not, ``"off"`` skips it (tests of the other layers).

    Returns
    -------
    SandboxOutcome
        Failed runs (exceptions, limits, refused operations) are outcomes,
        not exceptions: the parent always survives.

    Raises
    ------
    InvalidInput
        The source is not one function, or its parameters do not match the
        tables, or a table file is missing.
    ExecutionFailed
        ``network_namespace="require"`` on a host that cannot provide one.
    """
    info = check_source(source)
    if set(info.parameters) != set(tables):
        raise InvalidInput(
            f"the function's parameters {sorted(info.parameters)} must be exactly "
            f"the approved datasets {sorted(tables)}"
        )
    paths = {}
    for name, path in tables.items():
        if not Path(path).is_file():
            raise InvalidInput(f"the table file of dataset {name!r} does not exist")
        paths[name] = str(Path(path).resolve())
    prefix: tuple[str, ...] = ()
    if network_namespace != "off":
        prefix = network_namespace_prefix() or ()
        if not prefix and network_namespace == "require":
            raise ExecutionFailed("this host cannot start a process in a new network namespace")
    workdir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="sandbox-", dir=workdir))
    try:
        return _run(info.name, source, paths, limits, run_dir, prefix, landlock)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _run(
    name: str,
    source: str,
    tables: dict[str, str],
    limits: Limits,
    run_dir: Path,
    prefix: tuple[str, ...],
    landlock: Mode,
) -> SandboxOutcome:
    tmp = run_dir / "tmp"
    tmp.mkdir(mode=0o700)
    spec = {
        "source": source,
        "function": name,
        "tables": tables,
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_bytes,
            "output_bytes": limits.output_bytes,
            "log_bytes": limits.log_bytes,
        },
        "tmp": str(tmp),
        "result": str(run_dir / "result"),
        "meta": str(run_dir / "meta.json"),
        "landlock": landlock,
    }
    (run_dir / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    command = [*prefix, sys.executable, "-I", "-B", "-m", "insitu.node.sandbox.child"]
    command.append(str(run_dir / "spec.json"))
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    env |= {"HOME": str(tmp), "TMPDIR": str(tmp), "MALLOC_ARENA_MAX": "2"}
    env |= {"ARROW_DEFAULT_MEMORY_POOL": "system"}  # mimalloc reserves ~1 GiB of address space
    env |= dict.fromkeys(_THREAD_VARIABLES, "1")
    start = time.monotonic()
    with open(run_dir / "fd1", "wb") as fd1, open(run_dir / "fd2", "wb") as fd2:
        process = subprocess.Popen(
            command, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=fd1, stderr=fd2,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    status, cpu, timed_out = _wait(process, limits.wall_seconds)
    wall = time.monotonic() - start
    meta = _read_meta(run_dir / "meta.json")
    layers = [Layer.NETWORK_NAMESPACE] if prefix else []
    claimed = meta.get("layers")
    if isinstance(claimed, list):
        layers += [Layer(v) for v in claimed if isinstance(v, str) and v in _LAYER_NAMES]
    stdout = _join(meta.get("stdout"), _head(run_dir / "fd1", limits.log_bytes), limits.log_bytes)
    stderr = _join(meta.get("stderr"), _head(run_dir / "fd2", limits.log_bytes), limits.log_bytes)
    error = _limit_error(status, cpu, timed_out, limits)
    output = b""
    kind = OutputKind.NONE
    if error is None:
        error, kind, output = _result(meta, status, run_dir / "result", limits)
    if error is not None and isinstance(meta.get("traceback"), str):
        stderr = _join(stderr, meta["traceback"], 2 * limits.log_bytes)
    return SandboxOutcome(
        ok=error is None, output=output, output_kind=kind, stdout=stdout, stderr=stderr,
        error=error, cpu_seconds=cpu, wall_seconds=wall, layers=tuple(sorted(set(layers))),
    )  # fmt: skip


def _wait(process: subprocess.Popen[bytes], wall_seconds: float) -> tuple[int, float, bool]:
    """Wait for the child, killing its process group at the deadline.

    Returns the wait status, the CPU seconds it used and whether the
    deadline killed it. The child is reaped only after its group is killed,
    so its pid cannot be reused by then.
    """
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        _kill_group(process.pid)

    timer = threading.Timer(wall_seconds, kill)
    timer.daemon = True
    timer.start()
    try:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        pass  # reaped elsewhere (a SIGCHLD handler); wait4 below reports that too
    finally:
        timer.cancel()
        _kill_group(process.pid)  # leftovers in the group; a deadline hit in the finally too
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except ChildProcessError:  # status lost: report exit code 255, the report decides
        process.returncode = 255
        return 255 << 8, 0.0, fired.is_set()
    process.returncode = os.waitstatus_to_exitcode(status)
    return status, usage.ru_utime + usage.ru_stime, fired.is_set()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _limit_error(status: int, cpu: float, timed_out: bool, limits: Limits) -> str | None:
    if not os.WIFSIGNALED(status):
        return None
    sig = os.WTERMSIG(status)
    if timed_out and sig == signal.SIGKILL:
        return f"wall-clock limit of {limits.wall_seconds:g} s exceeded"
    # SIGKILL comes at the hard limit (one second past the soft one) when the code ignored
    # SIGXCPU. The rusage figure can read ~10% below the kernel's own CPU clock on a
    # contended host, hence the margin.
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= 0.75 * limits.cpu_seconds):
        return f"CPU time limit of {limits.cpu_seconds:g} s exceeded"
    hint = " (often the memory limit)" if sig in _CRASH_SIGNALS else ""
    return f"the process was killed by signal {signal.Signals(sig).name}{hint}"


def _result(
    meta: dict[str, Any], status: int, path: Path, limits: Limits
) -> tuple[str | None, OutputKind, bytes]:
    """Check the child's report and read its output; the report is untrusted."""
    code = os.waitstatus_to_exitcode(status)
    if not meta:
        return (
            f"the sandbox process ended without a report (exit code {code})",
            OutputKind.NONE,
            b"",
        )
    if meta.get("ok") is not True:
        error = meta.get("error")
        return (error if isinstance(error, str) else "the run failed"), OutputKind.NONE, b""
    if code != 0:
        return f"the sandbox process failed after the run (exit code {code})", OutputKind.NONE, b""
    kind = meta.get("kind")
    size = path.stat().st_size if path.is_file() else -1
    if kind not in (OutputKind.PARQUET.value, OutputKind.JSON.value) or size <= 0:
        return "the sandbox returned a malformed result", OutputKind.NONE, b""
    if size > limits.output_bytes:
        return f"the result is over the {limits.output_bytes}-byte limit", OutputKind.NONE, b""
    data = path.read_bytes()
    if kind == OutputKind.PARQUET.value and not (data[:4] == data[-4:] == b"PAR1"):
        return "the sandbox returned a malformed result", OutputKind.NONE, b""
    if kind == OutputKind.JSON.value:
        try:
            json.loads(data)
        except ValueError:
            return "the sandbox returned a malformed result", OutputKind.NONE, b""
    return None, OutputKind(kind), data


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            value = json.loads(handle.read(1 << 22))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _head(path: Path, limit: int) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _join(first: Any, second: str, limit: int) -> str:
    text = (first if isinstance(first, str) else "") + second
    return text if len(text) <= limit else text[:limit] + "\n[… truncated]"
