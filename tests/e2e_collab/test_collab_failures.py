"""Collaborations under failure: a peer killed or restarted, partitions, hostile messages."""

from __future__ import annotations

import time

import httpx
import pytest
from tests.e2e_collab.collab_cluster import ROWS, Cluster, key_of

from insitu.computations.secure_count import Kind, SumMessage
from insitu.federation.inbound import messages_path
from insitu.federation.messages import Chunker, Envelope
from insitu.federation.signing import sign_request

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENDED = {"failed", "cancelled", "timed_out", "denied", "done"}


def _propose(cluster: Cluster, cid: str, **kwargs: object) -> None:
    with cluster.owner("office-a") as c:
        r = c.post("/v1/collaborations", json=cluster.spec(cid, **kwargs))  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
    for name in cluster.nodes:
        cluster.wait(name, cid, {"proposed"})


def _wait_approvals(cluster: Cluster, name: str, cid: str, parties: set[str]) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        view = cluster.view(name, cid)
        if parties <= {p["name"] for p in view["parties"] if p["approved"]}:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} did not see approvals of {parties}")


def _inject(cluster: Cluster, cid: str, body: bytes, *, to: str = "office-a") -> httpx.Response:
    """POST a frame to ``to`` signed with office-c's own key (what a faulty peer would send)."""
    path = messages_path(cid)
    headers = sign_request(
        key_of(cluster.nodes["office-c"]),
        method="POST",
        path=path,
        body=body,
        now=time.time(),
        key_id=key_of(cluster.nodes["office-c"]).public_key.fingerprint(),
    )
    return httpx.post(cluster.nodes[to].url + path, content=body, headers=headers, timeout=30)


def _frame(cid: str, msg_id: str, payload: bytes) -> bytes:
    (frame,) = Chunker().split(
        payload, collab_id=cid, sender="office-c", receiver="office-a", msg_id=msg_id
    )
    return frame.to_bytes()


def test_peer_killed_mid_protocol_fails_one_job_cleanly_and_resumes_another(
    cluster: Cluster,
) -> None:
    running, deciding = cluster.new_id("killed"), cluster.new_id("resume")
    for cid in (running, deciding):
        _propose(cluster, cid)
        cluster.approve("office-a", cid)
        cluster.approve("office-b", cid)
        _wait_approvals(cluster, "office-c", cid, {"office-a", "office-b"})
    cluster.link.cut()  # office-c still sends; nothing reaches it
    try:
        cluster.approve("office-c", running)
        cluster.wait("office-c", running, {"running"}, timeout=30)
        cluster.nodes["office-c"].kill()
        cluster.nodes["office-c"].start()
        c_view = cluster.wait("office-c", running, ENDED)
        assert c_view["state"] == "failed"
        assert "restarted" in c_view["reason"]
        assert c_view["released"] is False and c_view["budget"] == "refunded"
        a_view = cluster.wait("office-a", running, ENDED)
        assert a_view["state"] == "failed"
        assert "office-c" in a_view["reason"]
        assert a_view["result_available"] is False
        assert cluster.wait("office-b", running, ENDED)["state"] in {"failed", "done"}
    finally:
        cluster.link.heal()
    with cluster.owner("office-a") as c:
        assert c.get(f"/v1/collaborations/{running}/result").status_code == 404
    # the collaboration office-c had not decided yet simply waits for its owner
    assert cluster.view("office-c", deciding)["state"] == "proposed"
    cluster.approve("office-c", deciding)
    assert cluster.wait("office-a", deciding, ENDED)["state"] == "done"
    with cluster.owner("office-a") as c:
        assert c.get(f"/v1/collaborations/{deciding}/result").json()["result"] == {
            "total": sum(ROWS.values())
        }


def test_partition_that_heals_is_retried_through(cluster: Cluster) -> None:
    cid = cluster.new_id("heal")
    _propose(cluster, cid)
    cluster.link.cut()
    try:
        for name in cluster.nodes:
            cluster.approve(name, cid)
        cluster.wait("office-a", cid, {"running"}, timeout=30)
        time.sleep(1.0)  # sends to office-c fail and are retried meanwhile
    finally:
        cluster.link.heal()
    for name in cluster.nodes:
        assert cluster.wait(name, cid, ENDED)["state"] == "done"


def test_lasting_partition_times_out_cleanly(cluster: Cluster) -> None:
    cid = cluster.new_id("partition")
    _propose(cluster, cid, timeout=8)
    cluster.link.cut()
    try:
        for name in cluster.nodes:
            cluster.approve(name, cid)
        views = {name: cluster.wait(name, cid, ENDED, timeout=40) for name in cluster.nodes}
    finally:
        cluster.link.heal()
    assert views["office-a"]["state"] in {"failed", "timed_out"}
    assert views["office-c"]["state"] in {"failed", "timed_out"}
    for view in views.values():
        assert view["state"] != "done" and view["reason"]
        assert view["result_available"] is False


@pytest.mark.parametrize(
    ("label", "make_body", "expected"),
    [
        ("malformed", lambda cid: b"XX\x01garbage", "bad magic"),
        (
            "oversized",
            lambda cid: Envelope(
                cid, "office-c", "office-a", "secure_count/share", 0, 1, 1 << 40, b"\0" * 32, b"x"
            ).to_bytes(),
            "exceeds the limit",
        ),
    ],
)
def test_hostile_frame_aborts_every_party(
    cluster: Cluster, label: str, make_body: object, expected: str
) -> None:
    cid = cluster.new_id(label)
    _propose(cluster, cid)
    cluster.approve("office-a", cid)
    r = _inject(cluster, cid, make_body(cid))  # type: ignore[operator]
    assert r.status_code == 409
    for name in cluster.nodes:
        view = cluster.wait(name, cid, ENDED)
        assert view["state"] in {"failed", "cancelled"}, view
        assert expected in view["reason"], view["reason"]


def test_out_of_order_and_replayed_messages_abort_with_reason(cluster: Cluster) -> None:
    cid = cluster.new_id("order")
    _propose(cluster, cid)
    cluster.approve("office-a", cid)
    # office-c's "share" arrives early and is a partial sum: the wrong stage's message
    body = _frame(cid, "secure_count/share", SumMessage(Kind.PARTIAL, 7).to_bytes())
    first = _inject(cluster, cid, body)
    assert first.status_code == 204
    # the very same signed request again is a replay: refused, and changes nothing
    replay = httpx.post(first.request.url, content=body, headers=dict(first.request.headers))
    assert replay.status_code == 401
    assert cluster.view("office-a", cid)["state"] == "approved_local"
    cluster.approve("office-b", cid)
    cluster.approve("office-c", cid)
    views = {name: cluster.wait(name, cid, ENDED) for name in cluster.nodes}
    assert views["office-a"]["state"] in {"failed", "cancelled"}
    reason = views["office-a"]["reason"]
    assert any(x in reason for x in ("expected a share", "other content", "differing")), reason
    for view in views.values():
        assert view["state"] in {"failed", "cancelled"}, view
        assert view["result_available"] is False
