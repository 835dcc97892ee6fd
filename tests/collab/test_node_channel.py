"""``HttpChannel`` between two nodes' real peer routes and DB inboxes: chunking, idempotence,
conflicts, and a computation that runs on it exactly as on the in-memory hub."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import pytest
from tests.collab.collab_setup import peer_all, spec_for, state, wait_for
from tests.collab.served_nodes import Served

from insitu.computations.channel import InMemoryHub
from insitu.computations.secure_count import secure_sum
from insitu.errors import ProtocolAbort
from insitu.federation.http_channel import HttpChannel, RetryPolicy
from insitu.federation.job import Job
from insitu.federation.spec import CollaborationSpec


@pytest.fixture
def ends(serve: Callable[..., Served]) -> tuple[Served, Served, HttpChannel, HttpChannel]:
    nodes = {"north": serve("north"), "south": serve("south")}
    peer_all(nodes)
    spec = CollaborationSpec.parse(spec_for(nodes, "chan", result="north"))
    now = time.time()
    channels = []
    for me, node in nodes.items():
        job = Job.propose(spec, me=me, now=now).approve(me, now=now)  # accepts frames
        node.node.federation.store.add_collab(spec, job, proposed_by="t", at=node.node.clock())
        (other,) = (n for n in nodes if n != me)
        channels.append(
            HttpChannel(
                me=me,
                collab_id="chan",
                peers={other: nodes[other].url},
                key=node.node.key,
                inbox=node.node.federation.inbox,
                retry=RetryPolicy(deadline=10),
                chunk_bytes=100,
            )
        )
    return nodes["north"], nodes["south"], channels[0], channels[1]


def test_chunked_messages_land_in_the_db_inbox_once(
    ends: tuple[Served, Served, HttpChannel, HttpChannel],
) -> None:
    north, south, to_south, _ = ends
    payload = os.urandom(1050)  # 11 frames
    to_south.send("south", "big", payload)
    to_south.send("south", "big", payload)  # a retried message is a no-op
    inbox = south.node.federation.inbox
    assert inbox.get(("chan", "north", "south", "big"), timeout=5) == payload
    assert south.node.federation.store.get_message(("chan", "north", "south", "big")) == payload
    # the same id with other bytes is a protocol violation: refused, and the part ends
    with pytest.raises(ProtocolAbort):
        to_south.send("south", "big", payload[::-1])
    view = wait_for(lambda: (s := state(south, "chan"))["state"] == "cancelled" and s)
    assert "other content" in view["reason"]
    del north


def test_a_computation_runs_on_node_channels_as_on_the_hub(
    ends: tuple[Served, Served, HttpChannel, HttpChannel],
) -> None:
    _, _, north_end, south_end = ends

    def run(channels: dict[str, object]) -> dict[str, int | None]:
        out: dict[str, int | None] = {}

        def party(name: str, value: int) -> None:
            out[name] = secure_sum(
                channels[name],  # type: ignore[arg-type]
                value,
                result_parties=["north"],
                run_id="t",
                timeout=10,
            )

        threads = [
            threading.Thread(target=party, args=(n, v)) for n, v in (("north", 40), ("south", 2))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return out

    hub = InMemoryHub(["north", "south"])
    on_hub = run({"north": hub.channel("north"), "south": hub.channel("south")})
    on_nodes = run({"north": north_end, "south": south_end})
    assert on_hub == on_nodes == {"north": 42, "south": None}
