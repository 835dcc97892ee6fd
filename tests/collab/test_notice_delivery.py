"""Notices go to each peer on its own: a peer that holds its connection open delays only itself."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from tests.collab.collab_setup import peer_all, spec_for, wait_for
from tests.collab.served_nodes import Served

from insitu.crypto.signing import SigningKey

Serve = Callable[..., Served]


@dataclass
class SilentPeer:
    """A listening socket that accepts connections and never answers."""

    url: str
    gave_up: threading.Event  # set once a client closed its connection without an answer


@pytest.fixture
def silent_peer() -> Iterator[SilentPeer]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop, gave_up = threading.Event(), threading.Event()
    held: list[socket.socket] = []

    def hold(conn: socket.socket) -> None:
        conn.settimeout(0.2)
        while not stop.is_set():
            try:
                if not conn.recv(65536):  # the client closed the connection
                    gave_up.set()
                    return
            except TimeoutError:
                continue
            except OSError:  # closed at teardown
                return

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)
            threading.Thread(target=hold, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield SilentPeer(f"http://127.0.0.1:{server.getsockname()[1]}", gave_up)
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_peer_does_not_hold_back_the_notice_to_another(
    serve: Serve, silent_peer: SilentPeer
) -> None:
    url = silent_peer.url
    nodes = {"north": serve("north"), "south": serve("south")}
    peer_all(nodes)
    key = SigningKey.generate().public_key.to_text()
    for node in nodes.values():
        with node.http() as c:
            body = {"name": "silent", "url": url, "public_key": key}
            assert c.post("/v1/peers", json=body).status_code == 201
    spec = spec_for(nodes, "with-a-silent-peer", result="north")
    silent = {"name": "silent", "url": url, "public_key": key, "roles": ["computing"]}
    spec["parties"] = [spec["parties"][0], silent, *spec["parties"][1:]]  # silent comes first
    with nodes["north"].http() as c:
        assert c.post("/v1/collaborations", json=spec).status_code == 201, c
    # south hears of the proposal while the notice to the silent peer still waits
    with nodes["south"].http() as c:
        wait_for(lambda: c.get("/v1/collaborations/with-a-silent-peer").status_code == 200)
    assert not silent_peer.gave_up.is_set()
