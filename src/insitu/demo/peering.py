"""Demo chapter: the three offices register each other as peers with invites."""

from __future__ import annotations

import insitu
from insitu.demo.cluster import DemoNode
from insitu.demo.story import chapter, says


def run(nodes: list[DemoNode]) -> None:
    chapter(
        "Peering",
        "Owners exchange one-line invites and compare key fingerprints out of band.",
    )
    owners = {n.name: insitu.connect(n.url, token=n.owner_token) for n in nodes}
    invites = {name: client.peers.invite() for name, client in owners.items()}
    for name, client in owners.items():
        for other, invite in invites.items():
            if other != name:
                peer = client.peers.accept(invite)
                says(
                    name,
                    f"owner accepted {other}'s invite (fingerprint {peer['fingerprint']})",
                    role="owner",
                )
    says(
        nodes[0].name,
        f"sees peers: {', '.join(p['name'] for p in owners[nodes[0].name].peers.list())}",
        role="owner",
    )
