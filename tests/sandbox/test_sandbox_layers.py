"""Each confinement layer on its own: audit hook, network namespace, Landlock."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from insitu.node.sandbox import Layer, Limits, run_function
from insitu.node.sandbox.landlock import abi_version
from insitu.node.sandbox.netns import network_namespace_prefix

LIMITS = Limits(cpu_seconds=20, memory_bytes=768 << 20, wall_seconds=60, output_bytes=1 << 20)


def python(code: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-I", "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def open_under_hook(
    paths: list[str], *, read: list[str], write: list[str], tamper: str = ""
) -> list[str]:
    """In a fresh interpreter: install the hook, run ``tamper``, try to read each path."""
    done = python(
        f"""
        import builtins, json, os, os.path, sys
        from insitu.node.sandbox.guard import make_hook
        sys.addaudithook(make_hook(read_roots={read!r}, write_roots={write!r}))
        {tamper}
        results = []
        for path in {paths!r}:
            try:
                results.append(open(path).read())
            except PermissionError:
                results.append("refused")
        print(json.dumps(results))
        """
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_audit_hook_holds_when_builtins_and_os_are_replaced(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ok.txt").write_text("fine")
    tamper = (
        "builtins.any = builtins.all = lambda *a: True; "
        f"os.path.realpath = lambda p, **k: {str(allowed)!r}; "
        f"os.lstat = lambda p: os.stat({str(allowed)!r})"
    )
    escape = f"{allowed}/../../../etc/passwd"
    paths = ["/etc/passwd", escape, "/proc/self/environ", str(allowed / "ok.txt")]
    found = open_under_hook(paths, read=[str(allowed)], write=[], tamper=tamper)
    assert found == ["refused", "refused", "refused", "fine"]


def test_audit_hook_follows_symlinks_out_of_the_work_area(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "out").symlink_to("/etc")
    found = open_under_hook([str(work / "out" / "passwd")], read=[], write=[str(work)])
    assert found == ["refused"]


@pytest.mark.skipif(network_namespace_prefix() is None, reason="no network namespaces here")
def test_network_namespace_alone_stops_connections() -> None:
    prefix = network_namespace_prefix()
    assert prefix is not None
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), 5)"
        assert python(connect).returncode == 0  # reachable from an ordinary process
        blocked = python(connect, prefix)
    assert blocked.returncode != 0
    assert "OSError" in blocked.stderr or "Error" in blocked.stderr


@pytest.mark.skipif(abi_version() < 1, reason="no Landlock on this kernel")
def test_landlock_stops_native_reads_the_audit_hook_cannot_see(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "approved.parquet")
    pd.DataFrame({"secret": [42]}).to_parquet(tmp_path / "secret.parquet")
    source = textwrap.dedent(
        f"""
        def peek(approved):
            import pyarrow.parquet as pq  # reads in C++: no audit event
            return int(pq.read_table({str(tmp_path / "secret.parquet")!r})["secret"][0].as_py())
        """
    )
    tables = {"approved": tmp_path / "approved.parquet"}
    strict = run_function(
        source, tables=tables, limits=LIMITS, workdir=tmp_path / "work",
        landlock="require", network_namespace="auto",
    )  # fmt: skip
    assert not strict.ok and strict.error and "Permission denied" in strict.error
    assert Layer.LANDLOCK in strict.layers
    hook_only = run_function(
        source, tables=tables, limits=LIMITS, workdir=tmp_path / "work", landlock="off"
    )
    assert hook_only.ok and hook_only.output == b"42"  # why the kernel layer matters
    assert Layer.LANDLOCK not in hook_only.layers
