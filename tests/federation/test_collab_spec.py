"""Collaboration specs: canonical hashing and clear validation errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from insitu.crypto.signing import SigningKey
from insitu.errors import InvalidInput
from insitu.federation.spec import CollaborationSpec, Role

KEYS = [SigningKey.generate().public_key.to_text() for _ in range(3)]


def spec_data() -> dict[str, Any]:
    return {
        "collab_id": "overlap-2026-01",
        "computation": "secure_count",
        "parameters": {"filter": "age >= 18", "bins": [1, 2, 3]},
        "parties": [
            {
                "name": "office-a",
                "url": "https://a.example/",
                "public_key": KEYS[0],
                "roles": ["input", "computing", "result"],
                "datasets": ["register"],
            },
            {
                "name": "office-b",
                "url": "https://b.example",
                "public_key": KEYS[1],
                "roles": ["computing", "input"],
                "datasets": ["register", "workers"],
            },
            {
                "name": "helper",
                "url": "http://10.0.0.3:8000/node",
                "public_key": KEYS[2],
                "roles": ["computing"],
            },
        ],
        "privacy_costs": [
            {"party": "office-a", "dataset": "register", "epsilon": 0.5, "delta": 1e-7},
            {"party": "office-b", "dataset": "register", "rho": 0.125},
            {"party": "office-b", "dataset": "workers", "exact": True},
        ],
        "result_parties": ["office-a"],
        "timeout_seconds": 3600,
    }


def test_a_valid_spec_parses() -> None:
    spec = CollaborationSpec.parse(spec_data())
    assert spec.party_names == ("office-a", "office-b", "helper")
    assert spec.party("office-b").roles == {Role.INPUT, Role.COMPUTING}
    assert spec.party("office-a").url == "https://a.example"
    assert set(spec.party_keys()) == {"office-a", "office-b", "helper"}


def test_hash_is_stable_across_role_order_and_reparsing() -> None:
    data = spec_data()
    spec = CollaborationSpec.parse(data)
    data["parties"][0]["roles"].reverse()
    again = CollaborationSpec.parse(data)
    assert again.spec_hash() == spec.spec_hash()
    assert CollaborationSpec.parse(spec.to_json_value()).canonical_json() == spec.canonical_json()
    assert len(spec.spec_hash()) == 64


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["parameters"].update(filter="age >= 21"),
        lambda d: d.update(timeout_seconds=3601),
        lambda d: d["privacy_costs"][0].update(epsilon=0.6),
        lambda d: d["parties"][2].update(url="http://10.0.0.4:8000/node"),
        lambda d: d.update(collab_id="overlap-2026-02"),
    ],
)
def test_any_change_changes_the_hash(change: Any) -> None:
    data = spec_data()
    before = CollaborationSpec.parse(data).spec_hash()
    change(data)
    assert CollaborationSpec.parse(data).spec_hash() != before


def no_input_party(d: dict[str, Any]) -> None:
    for party in d["parties"]:
        party.update(roles=["computing"], datasets=[])
    d["parties"][0]["roles"].append("result")
    d["privacy_costs"] = []


def broken(change: Any) -> str:
    data = copy.deepcopy(spec_data())
    change(data)
    with pytest.raises(InvalidInput) as info:
        CollaborationSpec.parse(data)
    assert info.value.details
    return info.value.message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["parties"][2].update(roles=[]), "'helper' has no role"),
        (lambda d: d.update(result_parties=["office-c"]), "result party 'office-c' is not among"),
        (lambda d: d.update(result_parties=[]), "at least one result party"),
        (
            lambda d: d.update(result_parties=["office-a", "office-b"]),
            "exactly the parties with the result role",
        ),
        (lambda d: d["parties"][2].update(name="office-a"), "duplicate party name: office-a"),
        (lambda d: d["parties"][2].update(url="https://b.example"), "duplicate url"),
        (lambda d: d["parties"][2].update(public_key=KEYS[0]), "duplicate public key"),
        (lambda d: d["parties"][0].update(datasets=[]), "input party 'office-a' names no dataset"),
        (lambda d: d["parties"][2].update(datasets=["x"]), "lists datasets but has no input"),
        (lambda d: d["parties"][1].update(datasets=["w", "w"]), "lists a dataset twice"),
        (lambda d: d["privacy_costs"].pop(), "office-b/workers has no privacy cost"),
        (
            lambda d: d["privacy_costs"].append({"party": "helper", "dataset": "x", "rho": 1}),
            "helper/x, not an input dataset",
        ),
        (
            lambda d: d["privacy_costs"].append(dict(d["privacy_costs"][1])),
            "given twice",
        ),
        (lambda d: d["privacy_costs"][0].update(rho=0.1), "exactly one of epsilon, rho or exact"),
        (lambda d: d["privacy_costs"][2].update(exact=False), "exactly one of epsilon, rho"),
        (lambda d: d["privacy_costs"][1].update(delta=1e-6), "delta goes with epsilon"),
        (lambda d: d["privacy_costs"][0].update(epsilon=-1), "greater than or equal to 0"),
        (lambda d: d["privacy_costs"][0].update(epsilon=float("inf")), "must be finite"),
        (lambda d: d["parties"].__delitem__(slice(1, 3)), "at least two parties"),
        (lambda d: d["parties"][0].update(public_key="nope"), "not a valid Ed25519 public key"),
        (lambda d: d["parties"][0].update(url="ftp://a"), "url must be http(s)"),
        (lambda d: d["parties"][0].update(name="a b"), "is not a name"),
        (lambda d: d.update(collab_id="../etc"), "is not an id"),
        (lambda d: d.update(computation=""), "is not a name"),
        (lambda d: d.update(parameters={"x": float("nan")}), "plain JSON"),
        (lambda d: d.update(timeout_seconds=0), "greater than 0"),
        (lambda d: d.update(version=2), "unsupported spec version 2"),
        (lambda d: d.update(extra="field"), "extra"),
        (no_input_party, "no party has the input role"),
    ],
)
def test_invalid_specs_say_what_is_wrong(change: Any, expected: str) -> None:
    assert expected in broken(change)


def test_every_problem_is_listed() -> None:
    def two_problems(d: dict[str, Any]) -> None:
        d["parties"][0]["url"] = "nope"
        d["parties"][1]["public_key"] = "nope"

    message = broken(two_problems)
    assert "parties.0.url" in message and "parties.1.public_key" in message


def test_unknown_party_lookup_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="no party 'x'"):
        CollaborationSpec.parse(spec_data()).party("x")
