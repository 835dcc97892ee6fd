"""The Python client for peers and collaborations, against nodes served over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from tests.collab.collab_setup import spec_for, wait_for
from tests.collab.served_nodes import Served
from tests.node_api.conftest import CARD, CSV

import insitu.client as client
from insitu.errors import Conflict, InvalidInput, NotFound
from insitu.federation.spec import CollaborationSpec


def test_owners_peer_with_invites_and_run_a_count_from_python(
    serve: Callable[..., Served], caplog: pytest.LogCaptureFixture
) -> None:
    north, south = serve("north"), serve("south")
    n = client.connect(north.url, token=north.owner_token)
    s = client.connect(south.url, token=south.owner_token)
    with n, s:
        with caplog.at_level(logging.WARNING, logger="insitu.peers"):
            n.peers.accept(s.peers.invite(url=south.url))
            s.peers.accept(n.peers.invite(url=north.url))
        assert any("plain HTTP" in r.getMessage() for r in caplog.records)
        assert [p["name"] for p in n.peers.list()] == ["south"]
        assert n.peers.suspend("south")["status"] == "suspended"
        assert n.peers.resume("south")["status"] == "active"
        for node in (north, south):
            with node.http() as h:
                up = h.put("/v1/uploads", content=CSV.encode()).json()
                ds = {"name": "persons", "card": CARD, "upload_id": up["upload_id"]}
                assert h.post("/v1/datasets", json=ds).status_code == 201
        nodes = {"north": north, "south": south}
        spec = CollaborationSpec.parse(spec_for(nodes, "from-python", result="north"))
        c = n.collaborations.propose(spec)
        assert c.parties == {"north": False, "south": False}
        pending = wait_for(lambda: s.collaborations.list(status="pending"))
        assert [p.id for p in pending] == ["from-python"]
        s.collaborations.approve("from-python")
        n.collaborations.approve("from-python")
        done = c.wait(timeout=60)
        assert done.state == "done" and done.parties == {"north": True, "south": True}
        assert done.result() == {"total": 6}
        with pytest.raises(Conflict):
            n.collaborations.deny("from-python", reason="too late")
        with pytest.raises(NotFound):
            n.collaborations.get("nothing")
        with pytest.raises(InvalidInput):
            n.collaborations.propose({"collab_id": "x"})
        n.peers.remove("south")
        assert n.peers.list() == []
