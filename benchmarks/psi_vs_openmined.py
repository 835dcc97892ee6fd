"""Benchmark: insitu ECDH-PSI against OpenMined PSI (openmined-psi, PyPI), same machine, same run.

Each measurement runs in its own child process so peak memory is per library.
Both parties run in that process one phase after the other; the figure is the
sum of both parties' computation and serialisation.

    .venv/bin/python benchmarks/psi_vs_openmined.py --log2n 16
    .venv/bin/python benchmarks/psi_vs_openmined.py --log2n 20 --sum --scaling 22
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any


def items(n: int) -> tuple[list[str], list[str]]:
    """n receiver and n sender items with 50% overlap."""
    half = n // 2
    return [f"item-{i:010d}" for i in range(n)], [f"item-{i:010d}" for i in range(half, half + n)]


def cpu_s() -> float:
    """CPU seconds used by this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class TreeMemory:
    """Samples the resident memory of this process and all its descendants; keeps the peak.

    Reading ``ru_maxrss`` of children would count the parent's pages a child
    briefly shares after ``fork``; summing live ``VmRSS`` avoids that.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    @staticmethod
    def _tree(pid: int) -> list[int]:
        out = [pid]
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    for child in f.read().split():
                        out.extend(TreeMemory._tree(int(child)))
        except OSError:
            pass
        return out

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            total = sum(self._rss_kb(p) for p in self._tree(os.getpid()))
            self.peak_kb = max(self.peak_kb, total)

    def stop_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(self.peak_kb, own) / 1024


def run_openmined(n: int) -> dict[str, Any]:
    import private_set_intersection.python as psi

    x, y = items(n)
    phases: dict[str, float] = {}
    t = time.perf_counter()
    client = psi.client.CreateWithNewKey(True)
    server = psi.server.CreateWithNewKey(True)
    request = client.CreateRequest(x).SerializeToString()
    phases["receiver: blind + serialise"] = time.perf_counter() - t
    t = time.perf_counter()
    setup = server.CreateSetupMessage(1e-9, n, y, psi.DataStructure.GCS).SerializeToString()
    phases["sender: own set (GCS) + serialise"] = time.perf_counter() - t
    t = time.perf_counter()
    req = psi.Request()
    req.ParseFromString(request)
    response = server.ProcessRequest(req).SerializeToString()
    phases["sender: re-blind + serialise"] = time.perf_counter() - t
    t = time.perf_counter()
    s = psi.ServerSetup()
    s.ParseFromString(setup)
    r = psi.Response()
    r.ParseFromString(response)
    found = client.GetIntersection(s, r)
    phases["receiver: unblind + match"] = time.perf_counter() - t
    assert len(found) == n // 2, len(found)
    wire = len(request) + len(setup) + len(response)
    return {
        "phases": phases,
        "wire_bytes": wire,
        "matched": len(found),
        "cpu_s": cpu_s(),
    }


def run_insitu(n: int, workers: int, mode_name: str) -> dict[str, Any]:
    from insitu.engine import LocalEngine
    from insitu.protocols.psi import Mode, PsiReceiver, PsiSender

    mode = Mode[mode_name]
    x_text, y_text = items(n)
    x = [v.encode() for v in x_text]
    y = [v.encode() for v in y_text]
    del x_text, y_text
    chunk = 1 << 13
    values = [(i * 7919) % (1 << 32) for i in range(n)] if mode is Mode.SUM else None
    with LocalEngine(workers) as engine:
        # warm the pool so process start-up is not billed to the first phase
        list(engine.map(len, [[b""]] * workers))
        phases: dict[str, float] = {}
        t = time.perf_counter()
        receiver = PsiReceiver(mode=mode, mapper=engine.map)
        sender = PsiSender(mode=mode, size=n, mapper=engine.map, chunk_size=chunk)
        sender_hello = sender.receive_hello(receiver.hello())
        receiver.receive_sender_hello(sender_hello)
        blinded = list(receiver.blind(x[i : i + chunk] for i in range(0, n, chunk)))
        phases["receiver: blind + serialise"] = time.perf_counter() - t
        t = time.perf_counter()
        extras = None if values is None else (values[i : i + chunk] for i in range(0, n, chunk))
        sender_items = list(sender.setup((y[i : i + chunk] for i in range(0, n, chunk)), extras))
        phases["sender: own set (tags) + serialise"] = time.perf_counter() - t
        t = time.perf_counter()
        reblinded = list(sender.reblind(blinded))
        phases["sender: re-blind + serialise"] = time.perf_counter() - t
        t = time.perf_counter()
        receiver.receive_sender_items(sender_items)
        out = receiver.receive_reblinded(reblinded)
        reply = receiver.reply()
        phases["receiver: unblind + match"] = time.perf_counter() - t
        result: dict[str, Any] = {"matched": out.cardinality}
        if reply is not None:
            t = time.perf_counter()
            sout = sender.finish(reply)
            phases["sender: decrypt sum"] = time.perf_counter() - t
            result["total"] = sout.total
            expected = sum(values[: n // 2]) if values is not None else None
            assert sout.total == expected, (sout.total, expected)
    assert out.cardinality == n // 2, out.cardinality
    wire = sum(map(len, [*blinded, *sender_items, *reblinded])) + len(reply or b"")
    wire += len(sender_hello) + 2 + 27
    engine_cpu = cpu_s()  # workers have exited: their CPU time is counted now
    result.update({"phases": phases, "wire_bytes": wire, "cpu_s": engine_cpu})
    return result


def child(args: argparse.Namespace) -> None:
    memory = TreeMemory()
    if args.library == "openmined":
        out = run_openmined(1 << args.log2n)
    else:
        out = run_insitu(1 << args.log2n, args.workers, args.mode)
    out["peak_mb"] = memory.stop_mb()
    print(json.dumps(out))


def measure(
    library: str, log2n: int, workers: int = 1, mode: str = "INTERSECTION"
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", library, "--log2n", str(log2n)]
    cmd += ["--workers", str(workers), "--mode", mode]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"{library} failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["total_s"] = sum(out["phases"].values())
    out["wall_s"] = time.perf_counter() - started
    return out


def show(name: str, n: int, out: dict[str, Any]) -> None:
    print(f"\n{name}  (n = {n} per side)")
    for phase, seconds in out["phases"].items():
        print(f"  {phase:<38} {seconds:8.2f} s")
    print(f"  {'total (both parties)':<38} {out['total_s']:8.2f} s")
    print(f"  wire {out['wire_bytes'] / n:.1f} B/element, peak memory {out['peak_mb']:.0f} MB")
    print(f"  CPU time of the whole run (all processes) {out['cpu_s']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log2n", type=int, default=16)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--mode", default="INTERSECTION")
    parser.add_argument("--sum", action="store_true", help="also time intersection-sum")
    parser.add_argument("--scaling", type=int, default=0, help="also time insitu up to 2^K")
    parser.add_argument("--skip-single", action="store_true", help="skip the 1-worker run")
    parser.add_argument(
        "--insitu-only", action="store_true", help="skip openmined-psi (for --scaling runs)"
    )
    parser.add_argument("--child", choices=["openmined", "insitu"], dest="library")
    args = parser.parse_args()
    if args.library:
        child(args)
        return
    n = 1 << args.log2n
    from insitu.crypto.ristretto import BACKEND

    print(f"machine: {os.cpu_count()} CPUs visible, {args.workers} workers; shared machine")
    print(f"insitu's ristretto255 batch kernels: {BACKEND}; load average {os.getloadavg()}")
    om = None if args.insitu_only else measure("openmined", args.log2n)
    if om is not None:
        show("openmined-psi 2.0.6 (P-256, GCS setup, 1 thread)", n, om)
    ours = measure("insitu", args.log2n, args.workers)
    show(f"insitu ristretto255 ({args.workers} workers)", n, ours)
    if om is not None:
        print(f"\nspeed-up vs openmined-psi: {om['total_s'] / ours['total_s']:.2f}x")
    if not args.skip_single and om is not None:
        single = measure("insitu", args.log2n, 1)
        show("insitu ristretto255 (1 worker)", n, single)
        print(f"  {args.workers}-core speed-up: {single['total_s'] / ours['total_s']:.2f}x")
        print(f"  1-worker ratio vs openmined-psi: {om['total_s'] / single['total_s']:.2f}x")
    if args.sum:
        summed = measure("insitu", args.log2n, args.workers, "SUM")
        show(f"insitu intersection-sum ({args.workers} workers)", n, summed)
        print(f"  intersection-sum / intersection: {summed['total_s'] / ours['total_s']:.2f}x")
    for k in range(args.log2n + 1, args.scaling + 1):
        bigger = measure("insitu", k, args.workers)
        show(f"insitu ristretto255 ({args.workers} workers)", 1 << k, bigger)
        per = bigger["total_s"] / (1 << k) / (ours["total_s"] / n)
        print(f"  time per element relative to 2^{args.log2n}: {per:.2f}")


if __name__ == "__main__":
    main()
