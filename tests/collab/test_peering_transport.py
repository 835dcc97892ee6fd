"""Peering over the node's HTTP API and the signed node-to-node routes, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from tests.collab.served_nodes import Served, signed_post

from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.federation.inbound import messages_path
from insitu.node.federation.invites import (
    Invite,
    add_peer_from_invite,
    make_invite,
    parse_invite,
)
from insitu.node.federation.notices import PROPOSE_PATH
from insitu.node.node import Node

Serve = Callable[..., Served]


def _register(node: Served, name: str, key: SigningKey, url: str = "http://127.0.0.1:9") -> None:
    with node.http() as c:
        r = c.post(
            "/v1/peers", json={"name": name, "url": url, "public_key": key.public_key.to_text()}
        )
        assert r.status_code == 201, r.text


def test_owner_registers_lists_suspends_and_removes_peers(serve: Serve) -> None:
    a = serve("node-a")
    key = SigningKey.generate()
    _register(a, "node-b", key)
    with a.http() as c:
        peers = c.get("/v1/peers").json()
        assert [(p["name"], p["status"], p["fingerprint"]) for p in peers] == [
            ("node-b", "active", key.public_key.fingerprint())
        ]
        again = c.post(
            "/v1/peers",
            json={
                "name": "other",
                "url": "http://127.0.0.1:8",
                "public_key": key.public_key.to_text(),
            },
        )
        assert again.status_code == 409  # one key, one peer
        assert c.post("/v1/peers/node-b/suspend").json()["status"] == "suspended"
        assert c.post("/v1/peers/node-b/resume").json()["status"] == "active"
        assert c.delete("/v1/peers/node-b").status_code == 204
        assert c.get("/v1/peers").json() == []
        actions = [e["action"] for e in c.get("/v1/audit").json()]
    assert [x for x in actions if x.startswith("peer.")] == [
        "peer.added",
        "peer.suspended",
        "peer.active",
        "peer.removed",
    ]


def test_plain_http_peer_needs_insecure_peers(serve: Serve) -> None:
    a = serve("node-a", insecure_peers=False)
    key = SigningKey.generate().public_key.to_text()
    with a.http() as c:
        r = c.post("/v1/peers", json={"name": "b", "url": "http://b.example", "public_key": key})
        assert r.status_code == 422
        assert "https" in r.json()["error"]["message"]
        ok = c.post(
            "/v1/peers", json={"name": "b", "url": "https://b.example:8443", "public_key": key}
        )
        assert ok.status_code == 201, ok.text


def test_only_owners_manage_peers(serve: Serve) -> None:
    a = serve("node-a")
    with a.http() as c:
        token = c.post("/v1/members", json={"name": "ana", "role": "analyst"}).json()["token"]
    with a.http(token) as ana:
        assert ana.get("/v1/peers").status_code == 403


def test_invite_round_trip_and_accept(serve: Serve) -> None:
    a = serve("node-a")
    b = serve("node-b")
    text = make_invite(a.node, url=a.url)
    invite = parse_invite(text)
    assert invite == Invite("node-a", a.url, a.node.key.public_key.to_text())
    assert invite.fingerprint == a.node.key.public_key.fingerprint()
    peer = add_peer_from_invite(b.node, text)
    assert (peer.name, peer.url, peer.fingerprint) == ("node-a", a.url, invite.fingerprint)
    with b.http() as c:
        shown = c.get("/v1/peers/invite", params={"url": b.url}).json()
        assert parse_invite(shown["invite"]).public_key == b.node.key.public_key.to_text()
        r = c.post("/v1/peers/accept", json={"invite": shown["invite"]})
        assert r.status_code == 422  # a node is not its own peer


@pytest.mark.parametrize(
    "bad",
    [
        "insitu-peer:v2:a@http://x#" + "A" * 43,
        "insitu-peer:v1:a@ftp://x#" + "A" * 43,
        "insitu-peer:v1:a@http://x#short",
        "insitu-peer:v1:@http://x#" + "A" * 43,
        "hello",
    ],
)
def test_malformed_invites_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_invite(bad)


def test_signed_calls_refused_for_every_reason(serve: Serve) -> None:
    a = serve("node-a")
    known = SigningKey.generate()
    stranger = SigningKey.generate()
    _register(a, "node-b", known)
    url = a.url
    # a known, well-signed call reaches the service (which refuses the empty spec: 422)
    r, headers, raw = signed_post(url, PROPOSE_PATH, {}, known)
    assert r.status_code == 422
    # the same request again: replayed nonce; the answer says nothing more
    replay = httpx.post(url + PROPOSE_PATH, content=raw, headers=headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["message"] == "request refused"
    # unknown key
    assert signed_post(url, PROPOSE_PATH, {}, stranger)[0].status_code == 401
    # bad signature: the body changed after signing

    def flip(h: dict[str, str]) -> None:
        sig = h["X-Insitu-Signature"]
        h["X-Insitu-Signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]

    assert signed_post(url, PROPOSE_PATH, {}, known, tamper=flip)[0].status_code == 401
    # stale and future timestamps
    assert signed_post(url, PROPOSE_PATH, {}, known, now=time.time() - 3600)[0].status_code == 401
    assert signed_post(url, PROPOSE_PATH, {}, known, now=time.time() + 3600)[0].status_code == 401
    # a suspended peer
    with a.http() as c:
        c.post("/v1/peers/node-b/suspend")
    assert signed_post(url, PROPOSE_PATH, {}, known)[0].status_code == 401
    with a.http() as c:
        c.post("/v1/peers/node-b/resume")
    assert signed_post(url, PROPOSE_PATH, {}, known)[0].status_code == 422
    # frames for a collaboration this node does not have: refused like an unknown key
    assert signed_post(url, messages_path("nope"), b"IF\x01", known)[0].status_code == 401


def test_replayed_nonce_is_refused_after_a_restart(serve: Serve) -> None:
    a = serve("node-a")
    known = SigningKey.generate()
    _register(a, "node-b", known)
    r, headers, _ = signed_post(a.url, PROPOSE_PATH, {}, known)
    assert r.status_code == 422
    # a second node process on the same database sees the nonce too
    other = Node(a.node.settings)
    try:
        assert not other.federation.nonces.check_and_add(
            headers["X-Insitu-Key"],
            headers["X-Insitu-Nonce"],
            expires_at=time.time() + 300,
            now=time.time(),
        )
    finally:
        other.close()


def test_oversized_control_body_is_refused_before_anything(serve: Serve) -> None:
    a = serve("node-a")
    known = SigningKey.generate()
    _register(a, "node-b", known)
    r, _, _ = signed_post(a.url, PROPOSE_PATH, b"x" * (2 << 20), known)
    assert r.status_code == 413
