"""Real HTTP peers for federation tests: a minimal Starlette app served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import ProtocolAbort, SecurityError
from insitu.federation.inbound import MESSAGES_PATH, PeerInbound
from insitu.federation.inbox import MemoryInbox
from insitu.federation.nonces import MemoryNonceStore


@dataclass
class Gate:
    """Network trouble a test switches on: refuse requests, or lose the response."""

    refuse_next: int = 0  # answer 503 without processing
    lose_next: int = 0  # process, then answer 503 as if the reply were lost
    refuse_all: bool = False
    stall: float = 0.0  # seconds to wait before answering
    seen: list[int] = field(default_factory=list)  # status of every answer
    refusal_reasons: list[str] = field(default_factory=list)


class FakeTime:
    """Clock and sleep for retry tests: starts at the real time (signatures must be fresh),
    then advances only by what the code sleeps, so retry counts do not depend on load."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Peer:
    """One node's receiving side, listening on loopback."""

    name: str
    key: SigningKey
    url: str
    inbox: MemoryInbox
    inbound: PeerInbound
    gate: Gate


def _app(inbound: PeerInbound, gate: Gate) -> Starlette:
    async def messages(request: Request) -> Response:
        body = await request.body()
        await asyncio.sleep(gate.stall)
        if gate.refuse_all or gate.refuse_next > 0:
            gate.refuse_next = max(0, gate.refuse_next - 1)
            gate.seen.append(503)
            return Response(status_code=503)
        path = request.scope["raw_path"].decode("latin-1")
        if request.scope["query_string"]:
            path += "?" + request.scope["query_string"].decode("latin-1")
        try:
            inbound.handle(
                request.path_params["collab_id"],
                headers=dict(request.headers),
                method=request.method,
                path=path,
                body=body,
                now=time.time(),
            )
        except SecurityError as exc:
            gate.refusal_reasons.append(str(getattr(exc, "reason", "")))
            gate.seen.append(401)
            return Response("request refused", status_code=401)
        except ProtocolAbort as exc:
            gate.seen.append(409)
            return Response(exc.message, status_code=409)
        if gate.lose_next > 0:
            gate.lose_next -= 1
            gate.seen.append(503)
            return Response(status_code=503)
        gate.seen.append(204)
        return Response(status_code=204)

    route = Route(MESSAGES_PATH, messages, methods=["POST"])
    return Starlette(routes=[route, Mount("/node", routes=[route])])  # also under a base path


class PeerNetwork:
    """Starts one real HTTP server per named party; all know each other's keys."""

    def __init__(self) -> None:
        self.keys: dict[str, VerifyKey] = {}
        self.peers: dict[str, Peer] = {}
        self._servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def add(self, name: str, key: SigningKey | None = None) -> Peer:
        key = key or SigningKey.generate()
        self.keys[name] = key.public_key
        inbox = MemoryInbox()
        gate = Gate()
        inbound = PeerInbound(
            me=name,
            party_keys=lambda _collab: self.keys,
            nonces=MemoryNonceStore(),
            inbox=inbox,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(_app(inbound, gate), log_level="warning", lifespan="off")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        self._servers.append((server, thread))
        peer = Peer(name, key, f"http://127.0.0.1:{port}", inbox, inbound, gate)
        self.peers[name] = peer
        return peer

    def urls_except(self, name: str) -> dict[str, str]:
        return {n: p.url for n, p in self.peers.items() if n != name}

    def close(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        for _, thread in self._servers:
            thread.join(timeout=5)
