"""Signed, chunked peer transport against a raw httpx POST of the same bytes, over loopback.

Run:  .venv/bin/python benchmarks/transport_throughput.py [--mib 64] [--repeats 5] [--small 400]
      [--in-flight 2]

A receiving node runs in a separate process (uvicorn serving a minimal ASGI app)
with two endpoints: ``POST /raw`` reads the body and answers 204 (the anchor),
and ``POST /peer/v1/collaborations/{id}/messages`` verifies the signature,
reassembles frames and stores whole messages (the path under test). Both read
the body the same way. Large: one payload of ``--mib`` MiB, best and median of
``--repeats`` sends each, interleaved. Small: ``--small`` messages of 1 KiB,
p50/p90 latency per message, signing and verification included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import ProtocolAbort, SecurityError
from insitu.federation.http_channel import HttpChannel, RetryPolicy
from insitu.federation.inbound import PeerInbound
from insitu.federation.inbox import Inbox, MemoryInbox
from insitu.federation.messages import MessageKey
from insitu.federation.nonces import MemoryNonceStore

COLLAB = "bench"
Send = Callable[[bytes, str], None]


class DigestInbox(Inbox):
    """Keeps only each message's SHA-256, so a long run does not hold every payload."""

    def __init__(self) -> None:
        self.digests: dict[str, str] = {}

    def put(self, key: MessageKey, payload: bytes) -> bool:
        new = key[3] not in self.digests
        self.digests[key[3]] = hashlib.sha256(payload).hexdigest()
        return new

    def get(self, key: MessageKey, *, timeout: float | None = None) -> bytes:
        raise NotImplementedError

    def discard(self, collab_id: str) -> int:
        return 0


async def _read_body(receive: Any) -> bytes:
    parts = []
    more = True
    while more:
        event = await receive()
        parts.append(event.get("body", b""))
        more = event.get("more_body", False)
    return b"".join(parts)


def make_app(sender_key: VerifyKey) -> Any:
    inbox = DigestInbox()
    inbound = PeerInbound(
        me="receiver",
        party_keys=lambda _c: {"sender": sender_key},
        nonces=MemoryNonceStore(),
        inbox=inbox,
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        status, text = 204, b""
        if scope["method"] == "GET" and path.startswith("/digest/"):
            status, text = 200, inbox.digests.get(path.removeprefix("/digest/"), "").encode()
        else:
            body = await _read_body(receive)
            if path.startswith("/peer/v1/collaborations/"):
                collab = path.split("/")[4]
                try:
                    inbound.handle(
                        collab,
                        headers={k.decode(): v.decode() for k, v in scope["headers"]},
                        method=scope["method"],
                        path=scope["raw_path"].decode("latin-1"),
                        body=body,
                        now=time.time(),
                    )
                except SecurityError:
                    status = 401
                except ProtocolAbort:
                    status = 409
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": text})

    return app


def serve(port: int, sender_key_text: str) -> None:
    import uvicorn

    app = make_app(VerifyKey.from_text(sender_key_text))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str) -> None:
    for _ in range(200):
        try:
            httpx.get(url + "/digest/none")
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("receiver did not start")


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def large(
    raw: Send, signed: Send, client: httpx.Client, url: str, mib: int, repeats: int
) -> dict[str, Any]:
    payload = os.urandom(mib << 20)
    expected = hashlib.sha256(payload).hexdigest()
    raw_t, signed_t = [], []
    for i in range(repeats):
        raw_t.append(timed(lambda: raw(payload, f"large-{i}")))
        signed_t.append(timed(lambda: signed(payload, f"large-{i}")))
        assert client.get(f"{url}/digest/large-{i}").text == expected, "payload corrupted"
    mib_s = {
        name: {"best": mib / min(ts), "median": mib / statistics.median(ts)}
        for name, ts in (("raw", raw_t), ("signed", signed_t))
    }
    return {
        "mib": mib,
        "repeats": repeats,
        "MiB/s": mib_s,
        "ratio_median": mib_s["signed"]["median"] / mib_s["raw"]["median"],
        "ratio_best": mib_s["signed"]["best"] / mib_s["raw"]["best"],
    }


def small(raw: Send, signed: Send, count: int) -> dict[str, Any]:
    payload = os.urandom(1024)
    raw_ms, signed_ms = [], []
    for i in range(count):
        raw_ms.append(1000 * timed(lambda: raw(payload, f"small-{i}")))
        signed_ms.append(1000 * timed(lambda: signed(payload, f"small-{i}")))

    def pct(xs: list[float]) -> dict[str, float]:
        q = statistics.quantiles(xs, n=10)
        return {"p50": statistics.median(xs), "p90": q[8]}

    return {"count": count, "raw_ms": pct(raw_ms), "signed_ms": pct(signed_ms)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", type=int, default=400)
    parser.add_argument("--in-flight", type=int, default=1, help="frames POSTed at once")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return

    key = SigningKey.generate()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            str(port),
            key.public_key.to_text(),
        ]
    )
    try:
        wait_for(url)
        client = httpx.Client(timeout=120)
        channel = HttpChannel(
            me="sender",
            collab_id=COLLAB,
            peers={"receiver": url},
            key=key,
            inbox=MemoryInbox(),
            client=client,
            retry=RetryPolicy(deadline=120, request_timeout=120),
            max_in_flight=args.in_flight,
        )

        def raw(payload: bytes, msg_id: str) -> None:
            client.post(f"{url}/raw", content=payload).raise_for_status()

        def signed(payload: bytes, msg_id: str) -> None:
            channel.send("receiver", msg_id, payload)

        big = large(raw, signed, client, url, args.mib, args.repeats)
        sm = small(raw, signed, args.small)
        facts = {
            "cpus": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0],
            "in_flight": args.in_flight,
        }
        print(json.dumps({"large": big, "small": sm, **facts}, indent=2))
        print(
            f"\n{args.mib} MiB: raw {big['MiB/s']['raw']['median']:.0f} MiB/s, signed+chunked "
            f"{big['MiB/s']['signed']['median']:.0f} MiB/s, ratio {big['ratio_median']:.2f} "
            f"(median), {big['ratio_best']:.2f} (best)"
        )
        print(
            f"1 KiB: p50 raw {sm['raw_ms']['p50']:.2f} ms, signed {sm['signed_ms']['p50']:.2f} ms "
            f"(overhead {sm['signed_ms']['p50'] - sm['raw_ms']['p50']:.2f} ms)"
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
