"""Control-plane load: 50 concurrent clients polling request status on a real node.

Run:  .venv/bin/python benchmarks/control_plane.py [--clients 50] [--seconds 10]

The node runs as its own process (uvicorn, one worker); the load comes from a
separate process (this script's asyncio loop with httpx), both on loopback.
Reports requests/s and latency percentiles. Anchor for comparison, in the same
run: the same load against a bare FastAPI endpoint that returns a constant
(no auth, no database), which bounds what the framework itself can do here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.livenode import LiveNode, free_port  # noqa: E402

BARE_APP = """
from fastapi import FastAPI
import uvicorn, sys
app = FastAPI()
@app.get("/v1/requests/{rid}")
def get(rid: int) -> dict:
    return {"id": rid, "status": "pending"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


async def _load(
    url: str, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:

        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                if POLL_MS:
                    await asyncio.sleep(POLL_MS / 1000)
                t0 = time.perf_counter()
                r = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

        t_start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(clients)))
        elapsed = time.perf_counter() - t_start
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


#: Think time of each client between two polls, in ms (0: poll back to back).
POLL_MS = 0


def _wrk(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    """Load from ``wrk`` (Debian package ``wrk``): one C thread, ``clients`` connections.

    With ``POLL_MS`` each connection waits that long before its next poll
    (wrk's ``delay()`` hook), so the offered load is about
    ``clients / (POLL_MS + latency)`` requests per second, like real pollers.
    """
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{int(seconds)}s", "--latency", url]
    if POLL_MS:
        script = Path(tempfile.mkdtemp()) / "poll.lua"
        script.write_text(f"function delay()\n  return {int(POLL_MS)}\nend\n")
        cmd[1:1] = ["-s", str(script)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        assert m, text
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    total = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    assert total and rps, text
    return {
        "requests": int(total.group(1)),
        "errors": int(non2xx.group(1)) if non2xx else 0,
        "rps": float(rps.group(1)),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "generator": "wrk",
    }


def _run_load(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    """The load runs in a separate process so it does not share the node's interpreter.

    ``wrk`` when installed (it needs far less CPU per request, which matters on
    2 cores); otherwise an httpx asyncio client in a subprocess.
    """
    if shutil.which("wrk"):
        return _wrk(url, headers, clients, seconds)
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {str(ROOT)!r}); "
        "import benchmarks.control_plane as cp; from benchmarks.control_plane import _load; "
        f"cp.POLL_MS = {POLL_MS}; "
        f"print(json.dumps(asyncio.run(_load({url!r}, {headers!r}, {clients}, {seconds}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``): a load-independent cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--poll-ms", type=int, default=0, help="each client's pause between polls")
    args = ap.parse_args()
    global POLL_MS
    POLL_MS = args.poll_ms
    with tempfile.TemporaryDirectory() as tmp:
        node = LiveNode.create(Path(tmp), "bench").start()
        try:
            with node.http() as owner:
                up = owner.put("/v1/uploads", content=b"person_id,age\np1,30\n").json()
                card = {
                    "name": "t",
                    "columns": [
                        {"name": "person_id", "type": "string"},
                        {"name": "age", "type": "integer", "lower": 0, "upper": 120},
                    ],
                }
                owner.post(
                    "/v1/datasets", json={"name": "t", "card": card, "upload_id": up["upload_id"]}
                )
                token = owner.post("/v1/members", json={"name": "ana", "role": "analyst"}).json()[
                    "token"
                ]
            with node.http(token) as ana:
                rid = ana.post(
                    "/v1/requests",
                    json={
                        "kind": "code",
                        "payload": {"source": "def f(t):\n    return len(t)\n", "datasets": ["t"]},
                    },
                ).json()["id"]
            assert node.proc is not None
            before = _cpu_seconds(node.proc.pid)
            ours = _run_load(
                f"{node.url}/v1/requests/{rid}",
                {"Authorization": f"Bearer {token}"},
                args.clients,
                args.seconds,
            )
            ours["server_cpu_ms_per_request"] = (
                (_cpu_seconds(node.proc.pid) - before) * 1000 / ours["requests"]
            )
        finally:
            node.stop()
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/requests/1", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        before = _cpu_seconds(bare.pid)
        anchor = _run_load(f"http://127.0.0.1:{port}/v1/requests/1", {}, args.clients, args.seconds)
        anchor["server_cpu_ms_per_request"] = (
            (_cpu_seconds(bare.pid) - before) * 1000 / anchor["requests"]
        )
    finally:
        bare.terminate()
    print(
        json.dumps(
            {"insitu_node": ours, "bare_fastapi": anchor, "ratio_rps": ours["rps"] / anchor["rps"]},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
