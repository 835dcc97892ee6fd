"""The node's durable peer-message route against the bare in-memory one and a raw POST.

Run:  .venv/bin/python benchmarks/node_peer_route.py [--small 300] [--mib 16] [--repeats 3]
      [--in-flight 1] [--frame-mib 8]

Receiver under test: a real node (``create_app``, SQLite in WAL mode) whose
route verifies the signature against its registered peers, records the nonce
(``DbNonceStore``), reassembles frames (large messages are spooled to a file
as they arrive) and commits each whole message (``DbInbox``: small ones in the
``peer_messages`` row, large ones as an fsync'd file named in the row).
Anchor: a minimal Starlette app running ``PeerInbound`` with a
``MemoryNonceStore`` and a ``MemoryInbox`` (what ``tests/federation`` uses).
Both run under uvicorn in their own process; one ``HttpChannel`` per receiver
sends the same payloads, interleaved, and each message is read back from the
receiver's inbox before the next is sent, so the figures include delivery and
the receiver's commit. A raw ``httpx`` POST of the same bytes to a bare
endpoint of the anchor's process (reads the body, answers 204) is timed in the
same loop.

The reader runs in the receiving process, as a protocol party does: it takes
the message from the inbox and answers its length, so the payload crosses the
wire once, as in the raw POST. After each timed message an untimed request has
the receiver read the message again (for the node: from its database or file,
no longer from memory) and answer its SHA-256, which must match. Prints
p50/p90 latency for 1 KiB messages and MiB/s for one large message, the ratios
node / anchor and node / raw, and the load average. The p50 of the send alone
(``send`` returns on the receiver's 204, which follows its commit) is printed
beside it: the message is durable then, and the read-back is the harness's own
extra round trip.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from insitu.crypto.signing import SigningKey
from insitu.federation.http_channel import HttpChannel, RetryPolicy
from insitu.federation.inbox import MemoryInbox
from insitu.federation.job import Job
from insitu.federation.messages import DEFAULT_CHUNK_BYTES
from insitu.federation.spec import CollaborationSpec
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

ANCHOR = r"""
import hashlib, sys, time
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from insitu.crypto.signing import VerifyKey
from insitu.federation.inbound import MESSAGES_PATH, PeerInbound
from insitu.federation.inbox import MemoryInbox
from insitu.federation.nonces import MemoryNonceStore

inbound = PeerInbound(me="south", party_keys=lambda _c: {"north": VerifyKey.from_text(sys.argv[2])},
                      nonces=MemoryNonceStore(), inbox=MemoryInbox())

async def messages(request):
    body = await request.body()
    inbound.handle(request.path_params["collab_id"], headers=dict(request.headers),
                   method="POST", path=request.scope["raw_path"].decode(), body=body,
                   now=time.time())
    return Response(status_code=204)

async def got(request):
    key = ("bench", "north", "south", request.path_params["msg"])
    return Response(str(len(inbound.inbox.get(key, timeout=30))))

async def sha(request):
    key = ("bench", "north", "south", request.path_params["msg"])
    return Response(hashlib.sha256(inbound.inbox.get(key, timeout=30)).hexdigest())

async def ping(request):
    return Response(b"ok")

async def raw(request):
    await request.body()
    return Response(status_code=204)

app = Starlette(routes=[Route(MESSAGES_PATH, messages, methods=["POST"]),
                        Route("/got/{msg:path}", got), Route("/sha/{msg:path}", sha),
                        Route("/ping", ping),
                        Route("/raw", raw, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""

NODE = r"""
import hashlib, sys
import uvicorn
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.routing import Route
from insitu.errors import Unavailable
from insitu.node.api.app import create_app
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

node = Node(NodeSettings.load(sys.argv[1]))
app = create_app(node, run_jobs=False)

async def ping(request):
    return Response(b"ok")

async def got(request):
    # a message is handed to readers in this process as it commits: take it without a
    # thread; wait in one only if it is not there yet
    key = ("bench", "north", "south", request.path_params["msg"])
    try:
        payload = node.federation.inbox.get(key, timeout=0)
    except Unavailable:
        payload = await run_in_threadpool(node.federation.inbox.get, key, timeout=30)
    return Response(str(len(payload)))

def sha(request):
    key = ("bench", "north", "south", request.path_params["msg"])
    return Response(hashlib.sha256(node.federation.inbox.get(key, timeout=30)).hexdigest())

# These routes stand in for a protocol party in the node's process, which reads its
# inbox with no HTTP at all: plain routes matched before the node's own (as in the
# anchor's app), so that neither walking the node's API nor FastAPI's parameter
# handling counts as message overhead.
app.router.routes[:0] = [Route("/ping", ping), Route("/got/{msg:path}", got),
                         Route("/sha/{msg:path}", sha)]

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str) -> None:
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not start")


def prepare_node(root: Path, north_key: SigningKey) -> Path:
    """A node 'south' that registered 'north' and approved a collaboration 'bench'."""
    init_node(root / "south", name="south")
    settings = NodeSettings.load(root / "south")
    settings.insecure_peers = True
    settings.save()
    node = Node(settings)
    try:
        north_url = "http://127.0.0.1:9"
        node.federation.peers.add(
            "north", url=north_url, public_key=north_key.public_key.to_text(), by="owner"
        )
        spec = CollaborationSpec.parse(
            {
                "collab_id": "bench",
                "computation": "secure_count",
                "parties": [
                    {"name": "north", "url": north_url, "roles": ["input", "result"],
                     "public_key": north_key.public_key.to_text(), "datasets": ["d"]},
                    {"name": "south", "url": "http://127.0.0.1:8", "roles": ["input"],
                     "public_key": node.key.public_key.to_text(), "datasets": ["d"]},
                ],
                "privacy_costs": [
                    {"party": "north", "dataset": "d", "exact": True},
                    {"party": "south", "dataset": "d", "exact": True},
                ],
                "result_parties": ["north"],
                "timeout_seconds": 7 * 24 * 3600,
            }
        )  # fmt: skip
        now = time.time()
        job = Job.propose(spec, me="south", now=now).approve("south", now=now)
        node.federation.store.add_collab(spec, job, proposed_by="bench", at=node.clock())
    finally:
        node.close()
    return root / "south"


def channel(url: str, key: SigningKey, in_flight: int, frame_bytes: int) -> HttpChannel:
    return HttpChannel(
        me="north",
        collab_id="bench",
        peers={"south": url},
        key=key,
        inbox=MemoryInbox(),
        retry=RetryPolicy(deadline=60),
        max_in_flight=in_flight,
        chunk_bytes=frame_bytes,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=1, help="frames POSTed at once")
    parser.add_argument(
        "--frame-mib", type=float, default=DEFAULT_CHUNK_BYTES / (1 << 20), help="frame size"
    )
    args = parser.parse_args()
    key = SigningKey.generate()
    root = Path(tempfile.mkdtemp(prefix="insitu-bench-"))
    node_dir = prepare_node(root, key)
    ports = {"node": free_port(), "anchor": free_port()}
    procs = [
        subprocess.Popen([sys.executable, "-c", NODE, str(node_dir), str(ports["node"])]),
        subprocess.Popen(
            [sys.executable, "-c", ANCHOR, str(ports["anchor"]), key.public_key.to_text()]
        ),
    ]
    try:
        urls = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
        for url in urls.values():
            wait_up(url)
        frame_bytes = int(args.frame_mib * (1 << 20))
        chans = {k: channel(u, key, args.in_flight, frame_bytes) for k, u in urls.items()}
        readers = {k: httpx.Client(base_url=u, timeout=60) for k, u in urls.items()}
        raw = readers["anchor"]  # a raw httpx POST of the same bytes to a bare endpoint
        small: dict[str, list[float]] = {"node": [], "anchor": [], "raw": []}
        sent: dict[str, list[float]] = {"node": [], "anchor": []}
        payload = os.urandom(1024)
        digest = hashlib.sha256(payload).hexdigest()
        for i in range(args.small):
            for kind in ("node", "anchor"):
                t0 = time.perf_counter()
                chans[kind].send("south", f"s{i}", payload)  # returns on the receiver's 204
                sent[kind].append(time.perf_counter() - t0)
                assert readers[kind].get(f"/got/s{i}").text == "1024"
                small[kind].append(time.perf_counter() - t0)
                assert readers[kind].get(f"/sha/s{i}").text == digest  # untimed
            t0 = time.perf_counter()
            assert raw.post("/raw", content=payload).status_code == 204
            small["raw"].append(time.perf_counter() - t0)
        large: dict[str, list[float]] = {"node": [], "anchor": [], "raw": []}
        big = os.urandom(args.mib << 20)
        big_digest = hashlib.sha256(big).hexdigest()
        for r in range(args.repeats):
            for kind in ("node", "anchor"):
                t0 = time.perf_counter()
                chans[kind].send("south", f"big{r}", big)
                assert readers[kind].get(f"/got/big{r}").text == str(len(big))
                large[kind].append(time.perf_counter() - t0)
                assert readers[kind].get(f"/sha/big{r}").text == big_digest  # untimed
            t0 = time.perf_counter()
            assert raw.post("/raw", content=big).status_code == 204
            large["raw"].append(time.perf_counter() - t0)
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} cores")
        for kind in ("node", "anchor", "raw"):
            q = statistics.quantiles(small[kind], n=10)
            print(
                f"{kind:6}  1 KiB p50 {statistics.median(small[kind]) * 1e3:7.2f} ms  "
                f"p90 {q[8] * 1e3:7.2f} ms   {args.mib} MiB median "
                f"{args.mib / statistics.median(large[kind]):7.1f} MiB/s"
            )
        ratio_small = statistics.median(small["node"]) / statistics.median(small["anchor"])
        ratio_large = statistics.median(large["anchor"]) / statistics.median(large["node"])
        print(
            f"ratio node/anchor: 1 KiB latency x{ratio_small:.2f}, "
            f"large throughput x{ratio_large:.2f}"
        )
        for kind in ("node", "anchor"):
            print(
                f"{kind:6}  1 KiB send alone (to the 204 after the receiver's commit) "
                f"p50 {statistics.median(sent[kind]) * 1e3:5.2f} ms"
            )
        raw_ratio = statistics.median(large["raw"]) / statistics.median(large["node"])
        overhead = statistics.median(small["node"]) - statistics.median(small["raw"])
        overhead_sent = statistics.median(sent["node"]) - statistics.median(small["raw"])
        print(
            f"node vs raw httpx POST: {args.mib} MiB throughput x{raw_ratio:.2f} "
            f"(target >= 0.5); 1 KiB per-message overhead {overhead * 1e3:.2f} ms p50 "
            "(target < 5 ms; includes reading the message back from the node's inbox), "
            f"{overhead_sent * 1e3:.2f} ms p50 to the commit"
        )
    finally:
        for p in procs:
            p.terminate()
            p.wait(20)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
