"""Secure sum of a 10^6-element real vector from 3 input parties: insitu vs MPyC 0.11.

insitu: ``insitu.computations.secure_stats.run_vector_sum`` — each input party
encodes its vector in fixed point (Z_2^64, 16 fractional bits), sends the
explicit share to one computing party (rotating) and a 32-byte AES-CTR seed to
the other two; each of 3 computing parties adds what it holds, the result party
fixes the roster, adds the 3 sums and decodes with the overflow range check.
Two transports: all 7 parties as threads over ``InMemoryHub``, and each party as
its own OS process exchanging bytes over plain loopback HTTP (stdlib server and
client below; no TLS, no signatures).

MPyC: 3 parties started by ``python secure_stats_mpyc_sum.py -M3`` (local
processes over TCP), each inputs a secure fixed-point array; the sum is opened.

Usage::

    .venv/bin/python benchmarks/secure_stats_vector_sum.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from insitu.computations.channel import Channel, InMemoryHub
from insitu.computations.secure_stats import VectorSumJob, run_vector_sum
from insitu.errors import Unavailable

INPUTS = ["in0", "in1", "in2"]
COMPUTING = ["cp0", "cp1", "cp2"]
RESULT = "result"
PARTIES = [*INPUTS, *COMPUTING, RESULT]
FRAC_BITS, BOUND = 16, 100.0
HERE = Path(__file__).resolve().parent


def vector(i: int, n: int) -> np.ndarray:
    return np.random.default_rng(i).uniform(-BOUND, BOUND, n)


# -- one party's part ---------------------------------------------------------
def job(n: int) -> VectorSumJob:
    return VectorSumJob(
        job_id="bench",
        input_parties=tuple(INPUTS),
        computing_parties=tuple(COMPUTING),
        result_party=RESULT,
        length=n,
        bound=BOUND,
        frac_bits=FRAC_BITS,
        timeout=120.0,
    )


def play(name: str, channel: Channel, n: int, x: np.ndarray | None = None) -> np.ndarray | None:
    return run_vector_sum(job(n), channel, x)


# -- in-process run -------------------------------------------------------------
def run_in_process(n: int) -> tuple[float, float, dict[str, int]]:
    xs = {name: vector(i, n) for i, name in enumerate(INPUTS)}
    expected = sum(xs.values())
    hub = InMemoryHub(PARTIES)
    out: dict[str, np.ndarray | None] = {}
    t0 = time.perf_counter()
    threads = [
        threading.Thread(
            target=lambda p=p: out.__setitem__(p, play(p, hub.channel(p), n, xs.get(p)))
        )
        for p in PARTIES
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    err = float(np.max(np.abs(out[RESULT] - expected)))
    return seconds, err, {}


# -- loopback HTTP channel (benchmark only) -------------------------------------
class HttpChannel(Channel):
    """Plain HTTP/1.1 POSTs between processes on 127.0.0.1; one keep-alive connection per peer."""

    def __init__(self, me: str, ports: dict[str, int]) -> None:
        self.me, self.parties, self.max_message_bytes = me, tuple(ports), 1 << 30
        self._ports, self._conns = ports, {}
        self._box: dict[tuple[str, str], bytes] = {}
        self._cond = threading.Condition()
        self.received_bytes: dict[str, int] = {}
        channel = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                sender, msg_id = self.path.lstrip("/").split("/", 1)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with channel._cond:
                    channel._box[(sender, msg_id)] = body
                    channel.received_bytes[sender] = channel.received_bytes.get(sender, 0) + len(
                        body
                    )
                    channel._cond.notify_all()
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", ports[me]), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def send(self, to: str, msg_id: str, payload: bytes) -> None:
        self._check(to, payload)
        conn = self._conns.get(to)
        if conn is None:
            conn = self._conns[to] = http.client.HTTPConnection("127.0.0.1", self._ports[to])
            conn.connect()  # headers and body go in two writes: switch off Nagle's delay
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.request(
            "POST",
            f"/{self.me}/{msg_id}",
            body=payload,
            headers={"Content-Type": "application/octet-stream"},
        )
        resp = conn.getresponse()
        resp.read()
        if resp.status != 204:
            raise Unavailable(f"peer {to} answered {resp.status}")

    def receive(self, sender: str, msg_id: str, *, timeout: float | None = None) -> bytes:
        with self._cond:
            if not self._cond.wait_for(lambda: (sender, msg_id) in self._box, timeout=timeout):
                raise Unavailable(f"no message {msg_id!r} from {sender!r}")
            return self._box.pop((sender, msg_id))


def _free_ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def party_process(name: str, ports: dict[str, int], n: int) -> None:
    """Entry of one party's OS process: ready, wait for go, play, report."""
    channel = HttpChannel(name, ports)
    x = vector(INPUTS.index(name), n) if name in INPUTS else None
    print("READY", flush=True)
    sys.stdin.readline()
    cpu0 = time.process_time()
    result = play(name, channel, n, x)
    report: dict[str, object] = {
        "received": channel.received_bytes,
        "cpu": time.process_time() - cpu0,
    }
    if result is not None:
        expected = sum(vector(i, n) for i in range(3))
        report["max_error"] = float(np.max(np.abs(result - expected)))
    print("DONE " + json.dumps(report), flush=True)
    time.sleep(0.2)  # let peers finish reading our last reply


def run_http(n: int) -> tuple[float, float, dict[str, int]]:
    ports = dict(zip(PARTIES, _free_ports(len(PARTIES)), strict=True))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs = {
        p: subprocess.Popen(
            [sys.executable, __file__, "--party", p, "--ports", json.dumps(ports), "--n", str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for p in PARTIES
    }
    for proc in procs.values():
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    t0 = time.perf_counter()
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = {}
    result_line = procs[RESULT].stdout.readline()  # type: ignore[union-attr]
    seconds = time.perf_counter() - t0
    reports[RESULT] = json.loads(result_line.split(" ", 1)[1])
    for p, proc in procs.items():
        if p != RESULT:
            reports[p] = json.loads(proc.stdout.readline().split(" ", 1)[1])  # type: ignore[union-attr]
        proc.wait(timeout=60)
    per_cp = {cp: sum(reports[cp]["received"].get(i, 0) for i in INPUTS) for cp in COMPUTING}
    per_cp["cpu_all_parties_ms"] = int(1000 * sum(r["cpu"] for r in reports.values()))
    return seconds, reports[RESULT]["max_error"], per_cp


def run_mpyc(n: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(HERE / "secure_stats_mpyc_sum.py"), "-M3"],
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_N": str(n)},
        check=True,
    )
    wall = time.perf_counter() - t0
    fields = out.stdout.split()
    return (
        float(fields[fields.index("MPYC_SECONDS") + 1]),
        wall,
        float(fields[fields.index("MAX_ERROR") + 1]),
    )


def report_mpyc(n: int) -> float:
    """Run MPyC's 3-party sum, print its figures, return its seconds in protocol."""
    mpyc_s, mpyc_wall, mpyc_err = run_mpyc(n)
    print(
        f"MPyC 0.11 -M3 (SecFxp(64) arrays): {mpyc_s:.3f} s in protocol, {mpyc_wall:.3f} s with "
        f"process start, max error {mpyc_err:.2e}"
    )
    return mpyc_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--party")
    ap.add_argument("--ports")
    ap.add_argument("--no-mpyc", action="store_true")
    args = ap.parse_args()
    if args.party:
        party_process(args.party, json.loads(args.ports), args.n)
        return
    n = args.n
    print(f"secure sum of a {n:,}-element vector, 3 input parties, 3 computing parties")
    mem = [run_in_process(n) for _ in range(args.repeat)]
    http = [run_http(n) for _ in range(args.repeat)]
    mem_s = statistics.median(r[0] for r in mem)
    http_s = statistics.median(r[0] for r in http)
    per_cp = http[0][2]
    print(f"insitu in-process (InMemoryHub): median {mem_s:.3f} s  max error {mem[0][1]:.2e}")
    print(f"insitu processes + loopback HTTP: median {http_s:.3f} s  max error {http[0][1]:.2e}")
    for cp in COMPUTING:
        b = per_cp[cp]
        print(f"  bytes received by {cp} from inputs: {b:,} ({b / n:.2f} B/element)")
    cpu = statistics.median(r[2]["cpu_all_parties_ms"] for r in http)
    print(f"  CPU time of all 7 party processes together (incl. HTTP): median {cpu} ms")
    if args.no_mpyc:
        return
    mpyc_s = report_mpyc(n)
    print(f"ratio MPyC / insitu in-process: {mpyc_s / mem_s:.1f}x")
    print(f"ratio MPyC / insitu HTTP processes: {mpyc_s / http_s:.1f}x")


if __name__ == "__main__":
    main()
