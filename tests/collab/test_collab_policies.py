"""Policies that approve this node's part of a collaboration: validation and matching."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from insitu.errors import InvalidInput
from insitu.node.init import init_node
from insitu.node.node import Node
from insitu.node.services.policies import CollabPart, Rule, collab_kind
from insitu.node.settings import NodeSettings


def part(**changes: Any) -> CollabPart:
    """Office-b's part of a PSI with office-a and office-c, ε = 0.5 on ``persons``."""
    base: dict[str, Any] = {
        "computation": "psi",
        "datasets": ("persons",),
        "peers": ("office-a", "office-c"),
        "proposer": "peer:office-a",
        "costs": {"persons": {"rho": 0.125, "epsilon": 0.5}},
    }
    return CollabPart(**{**base, **changes})


def rule(**fields: Any) -> Rule:
    return Rule.model_validate({"kinds": ["collab:psi"], **fields})


# -- matching ---------------------------------------------------------------------------
def test_a_rule_naming_the_computation_and_its_bounds_matches() -> None:
    full = rule(
        datasets=["persons", "firms"],
        peers=["office-a", "office-c", "office-d"],
        proposers=["peer:office-a"],
        max_epsilon=0.5,
        max_rho=0.125,
    )
    assert full.for_collaborations
    assert full.matches_collaboration(part())
    assert rule().matches_collaboration(part(costs={}))  # no bound: the cost is not asked


def test_another_computation_does_not_match() -> None:
    assert not rule().matches_collaboration(part(computation="secure_stats"))
    both = Rule.model_validate({"kinds": ["collab:secure_stats", "collab:psi"]})
    assert both.matches_collaboration(part(computation="secure_stats"))
    assert collab_kind("secure_stats") == "collab:secure_stats"


@pytest.mark.parametrize(
    "request_rule",
    [{}, {"kinds": ["dp_query"]}, {"kinds": ["dp_query", "code"]}, {"datasets": ["persons"]}],
)
def test_a_rule_written_for_requests_never_approves_a_collaboration(
    request_rule: dict[str, Any],
) -> None:
    r = Rule.model_validate(request_rule)
    assert not r.for_collaborations
    assert not r.matches_collaboration(part())
    assert not r.matches_collaboration(part(costs={}, datasets=()))


def test_a_collaboration_rule_never_approves_a_request() -> None:
    r = rule()
    for kind in ("dp_query", "code", "psi"):
        assert not r.matches(kind=kind, datasets=["persons"], analyst="ana", cost=None)


def test_every_other_party_must_be_a_listed_peer() -> None:
    assert not rule(peers=["office-a"]).matches_collaboration(part())
    assert not rule(peers=[]).matches_collaboration(part())
    assert rule(peers=["office-c", "office-a"]).matches_collaboration(part())


def test_every_dataset_of_the_part_must_be_listed() -> None:
    two = part(datasets=("persons", "firms"), costs={"persons": None, "firms": None})
    assert not rule(datasets=["persons"]).matches_collaboration(two)
    assert not rule(datasets=["firms"]).matches_collaboration(part())
    assert rule(datasets=["firms", "persons"]).matches_collaboration(two)


def test_the_proposer_must_be_listed() -> None:
    assert not rule(proposers=["peer:office-c"]).matches_collaboration(part())
    assert not rule(proposers=["office-a"]).matches_collaboration(part())  # a member name
    assert rule(proposers=["ana"]).matches_collaboration(part(proposer="ana"))


def test_a_cost_over_a_bound_does_not_match() -> None:
    assert not rule(max_epsilon=0.4).matches_collaboration(part())
    assert not rule(max_rho=0.1).matches_collaboration(part())
    assert rule(max_epsilon=0.5).matches_collaboration(part())
    # each dataset's charge is bounded, not only the first
    costs = {"persons": {"rho": 0.01}, "firms": {"rho": 0.5}}
    two = part(datasets=("persons", "firms"), costs=costs)
    assert not rule(max_rho=0.1).matches_collaboration(two)


def test_no_stated_cost_never_matches_a_bound() -> None:
    exact = part(costs={"persons": None})
    missing = part(costs={})
    computing_only = part(datasets=(), costs={})
    for bounded in (rule(max_epsilon=10.0), rule(max_rho=10.0)):
        for p in (exact, missing, computing_only):
            assert not bounded.matches_collaboration(p)
    assert rule().matches_collaboration(exact)
    # a cost stated in rho only has no epsilon
    assert not rule(max_epsilon=10.0).matches_collaboration(part(costs={"persons": {"rho": 0.1}}))


@given(
    kinds=st.one_of(
        st.none(), st.lists(st.sampled_from(["dp_query", "code", "psi", "secure_stats"]))
    ),
    computation=st.sampled_from(["psi", "secure_stats", "secure_count", "secure_sum"]),
    datasets=st.lists(st.sampled_from(["persons", "firms"]), unique=True),
    bound=st.one_of(st.none(), st.floats(min_value=0, max_value=10)),
)
def test_no_request_rule_matches_any_collaboration_part(
    kinds: list[str] | None, computation: str, datasets: list[str], bound: float | None
) -> None:
    r = Rule.model_validate({"kinds": kinds, "max_rho": bound})
    p = part(
        computation=computation,
        datasets=tuple(datasets),
        costs={d: {"rho": 0.0} for d in datasets},
    )
    assert not r.matches_collaboration(p)


# -- validation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kinds": ["dp_query", "collab:psi"]}, "requests or for collaborations"),
        ({"kinds": ["collab:"]}, "collab:<computation>"),
        ({"kinds": ["collab:psi x"]}, "collab:<computation>"),
        ({"kinds": ["collab:psi"], "analysts": ["ana"]}, "proposers"),
        ({"kinds": ["collab:psi"], "auto_release": True}, "auto_release"),
        ({"peers": ["office-a"]}, "collaborations only"),
        ({"kinds": ["dp_query"], "proposers": ["ana"]}, "collaborations only"),
        ({"kinds": ["collab:psi"], "max_rho": -1}, "greater than or equal"),
        ({"kinds": ["collab:psi"], "max_epsilon": float("nan")}, "finite"),
        ({"kinds": ["collab:psi"], "peer": ["office-a"]}, "Extra inputs"),
    ],
)
def test_a_bad_rule_is_refused_with_the_reason(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Rule.model_validate(fields)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    init_node(tmp_path / "n", name="n")
    n = Node(NodeSettings.load(tmp_path / "n"))
    yield n
    n.close()


def test_the_node_refuses_an_unknown_computation_and_stores_nothing(node: Node) -> None:
    with pytest.raises(InvalidInput, match="unknown collaboration computation collab:pis"):
        node.policies.add("typo", {"kinds": ["collab:pis"]}, by="owner")
    with pytest.raises(InvalidInput, match="requests or for collaborations"):
        node.policies.add("mixed", {"kinds": ["code", "collab:psi"]}, by="owner")
    assert node.policies.all() == []
    added = node.policies.add(
        "psi-from-a", {"kinds": ["collab:psi"], "peers": ["office-a"]}, by="owner"
    )
    assert added.rule["peers"] == ["office-a"] and added.rule["proposers"] is None
    entry = node.audit.entries()[-1]
    assert (entry.action, entry.subject) == ("policy.added", "policy:psi-from-a")


def test_a_stored_rule_that_no_longer_parses_approves_nothing_and_blocks_nothing(
    node: Node,
) -> None:
    with node.store.transaction():
        node.store.add_policy(
            "legacy", {"kinds": ["dp_query", "collab:psi"]}, by="owner", at=node.clock()
        )
    node.policies.add("dp", {"kinds": ["dp_query"]}, by="owner")
    found = node.policies.match(kind="dp_query", datasets=["x"], analyst="ana", cost=None)
    assert found is not None and found[0].name == "dp"
    assert node.policies.match_collaboration(part()) is None
