"""The node's frame route (``Federation.accept_frame``) in process, on SQLite and PostgreSQL:
a small frame's nonce and message commit together, refused frames keep their nonce,
large messages land in files, suspended peers are refused at once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from insitu.crypto.signing import SigningKey
from insitu.errors import ProtocolAbort
from insitu.federation.inbound import messages_path
from insitu.federation.job import Job
from insitu.federation.messages import Chunker, Envelope
from insitu.federation.signing import RefusalReason, RequestRefused, sign_request
from insitu.federation.spec import CollaborationSpec
from insitu.node.federation.message_files import file_name
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.settings import NodeSettings

NORTH = SigningKey.generate()
PATH = messages_path("c1")


@pytest.fixture
def south(tmp_path: Path, database_url: str) -> Iterator[Node]:
    """Node ``south`` that registered peer ``north`` and approved collaboration ``c1``."""
    init_node(tmp_path / "s", name="south", database_url=database_url)
    settings = NodeSettings.load(tmp_path / "s")
    settings.insecure_peers = True
    node = Node(settings)
    keys = {"north": NORTH.public_key.to_text(), "south": node.key.public_key.to_text()}
    urls = {"north": "http://127.0.0.1:9", "south": "http://127.0.0.1:8"}
    node.federation.peers.add("north", url=urls["north"], public_key=keys["north"], by="owner")
    parties = [
        {"name": n, "url": urls[n], "public_key": keys[n], "datasets": ["d"],
         "roles": ["input", "result"] if n == "north" else ["input"]}
        for n in keys
    ]  # fmt: skip
    costs = [{"party": n, "dataset": "d", "exact": True} for n in keys]
    spec = CollaborationSpec.parse(
        {"collab_id": "c1", "computation": "secure_count", "parties": parties,
         "privacy_costs": costs, "result_parties": ["north"], "timeout_seconds": 3600}
    )  # fmt: skip
    now = time.time()
    job = Job.propose(spec, me="south", now=now).approve("south", now=now)
    node.federation.store.add_collab(spec, job, proposed_by="t", at=node.clock())
    yield node
    node.close()


def signed(frame: Envelope) -> tuple[dict[str, str], bytes]:
    body = frame.to_bytes()
    headers = sign_request(
        NORTH, method="POST", path=PATH, body=body, now=time.time(),
        key_id=NORTH.public_key.fingerprint(),
    )  # fmt: skip
    return headers, body


def frames(payload: bytes, msg_id: str, *, receiver: str = "south", chunk: int = 1 << 20):
    return list(
        Chunker(chunk).split(
            payload, collab_id="c1", sender="north", receiver=receiver, msg_id=msg_id
        )
    )


def accept(node: Node, headers: dict[str, str], body: bytes) -> bool:
    return node.federation.accept_frame("c1", headers=headers, method="POST", path=PATH, body=body)


def refusal(node: Node, headers: dict[str, str], body: bytes) -> RefusalReason:
    with pytest.raises(RequestRefused) as info:
        accept(node, headers, body)
    return info.value.reason


def test_a_small_message_is_stored_and_its_replay_refused(south: Node) -> None:
    (frame,) = frames(b"hello", "m1")
    headers, body = signed(frame)
    assert accept(south, headers, body)
    assert south.federation.inbox.get(("c1", "north", "south", "m1"), timeout=0) == b"hello"
    assert refusal(south, headers, body) is RefusalReason.REPLAY


def test_a_refused_small_frame_keeps_its_nonce(south: Node) -> None:
    (misrouted,) = frames(b"hello", "m1", receiver="west")
    headers, body = signed(misrouted)
    with pytest.raises(ProtocolAbort, match="addressed to"):
        accept(south, headers, body)
    assert refusal(south, headers, body) is RefusalReason.REPLAY


def test_a_conflicting_repeat_is_refused_and_keeps_its_nonce(south: Node) -> None:
    (first,) = frames(b"hello", "m1")
    assert accept(south, *signed(first))
    south.federation.reassembler = type(south.federation.reassembler)(
        south.federation.reassembler.spool
    )  # the route forgot the message (a restart); the store has not
    (other,) = frames(b"HELLO", "m1")
    headers, body = signed(other)
    with pytest.raises(ProtocolAbort, match="differing"):
        accept(south, headers, body)
    assert refusal(south, headers, body) is RefusalReason.REPLAY
    assert south.federation.store.get_message(("c1", "north", "south", "m1")) == b"hello"


def test_a_large_message_arrives_in_a_file_without_leftovers(south: Node) -> None:
    payload = os.urandom((3 << 20) + 17)  # four frames of 1 MiB
    split = frames(payload, "big")
    done = [accept(south, *signed(f)) for f in split]
    assert done == [False, False, False, True]
    folder = south.settings.data_dir / "peer-messages"
    assert [p.name for p in folder.iterdir()] == [file_name(("c1", "north", "south", "big"))]
    assert south.federation.inbox.get(("c1", "north", "south", "big"), timeout=0) == payload
    assert south.federation.store.get_message(("c1", "north", "south", "big")) == payload


def test_a_suspended_peer_is_refused_at_once(south: Node) -> None:
    (frame,) = frames(b"hello", "m1")
    south.federation.peers.suspend("north", by="owner")
    assert refusal(south, *signed(frame)) is RefusalReason.UNKNOWN_KEY
    south.federation.peers.resume("north", by="owner")
    assert accept(south, *signed(frame))
