"""The client against a real node: identity, members, tokens, datasets and error round trips."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tests.served_node import CARD, ServedNode, card_for, people_csv, self_signed, served_node

import insitu
from insitu.client import Dataset, IssuedToken, Listing, connect
from insitu.errors import (
    AlreadyExists,
    CardViolation,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
)
from insitu.tables.card import Card


def test_info_and_me(owner: insitu.client.NodeClient, analyst: insitu.client.NodeClient) -> None:
    info = owner.info
    assert info["name"] == "t" and info["version"] == insitu.__version__
    assert info["public_key"] and info["fingerprint"]
    assert owner.me.role == "owner"
    assert analyst.me.name == "ana" and analyst.me.role == "analyst"


def test_top_level_connect_reads_the_environment(
    live: ServedNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSITU_URL", live.url)
    monkeypatch.setenv("INSITU_TOKEN", live.owner_token)
    with insitu.connect() as node:
        assert node.me.name == "owner"
        assert live.owner_token not in repr(node)


def test_bad_token_is_unauthenticated(live: ServedNode) -> None:
    with connect(live.url, token="ins_not-a-real-token") as node:
        with pytest.raises(Unauthenticated):
            _ = node.me
        assert node.info["name"] == "t"  # the node's public facts need no token


def test_unreachable_node_is_unavailable_and_names_the_url(tmp_path: Path) -> None:
    node = connect("http://127.0.0.1:9", token="ins_x", timeout=2)
    with node, pytest.raises(Unavailable, match=r"127\.0\.0\.1:9"):
        _ = node.info


def test_url_must_be_http() -> None:
    with pytest.raises(InvalidInput):
        connect("ftp://example.org", token="ins_x")


def test_member_lifecycle_and_token_hiding(
    owner: insitu.client.NodeClient, live: ServedNode
) -> None:
    issued = owner.members.add("bob", role="analyst")
    assert isinstance(issued, IssuedToken)
    assert issued.member.name == "bob" and issued.token.startswith("ins_")
    assert issued.token not in repr(issued) and issued.token not in str(issued)
    assert "bob" in [m.name for m in owner.members.list()]
    second = owner.members.issue_token("bob", expires_in_days=30, label="laptop")
    tokens = owner.members.tokens("bob")
    assert {t.id for t in tokens} == {issued.info.id, second.info.id}
    assert all(second.token not in repr(t) for t in tokens)
    with live.client(issued.token) as bob:
        assert bob.me.name == "bob"
        assert owner.members.revoke("bob", token_id=issued.info.id) == 1
        with pytest.raises(Unauthenticated):
            _ = bob.me
    with live.client(second.token) as bob2:
        assert bob2.me.name == "bob"
        assert owner.members.revoke("bob") >= 1
        with pytest.raises(Unauthenticated):
            _ = bob2.me


def test_expired_token_is_refused(owner: insitu.client.NodeClient, live: ServedNode) -> None:
    issued = owner.members.add("brief", role="analyst", expires_in_days=1e-7)  # ~9 ms
    time.sleep(0.2)
    with live.client(issued.token) as brief, pytest.raises(Unauthenticated):
        _ = brief.me


def test_member_errors_round_trip(
    owner: insitu.client.NodeClient, analyst: insitu.client.NodeClient
) -> None:
    with pytest.raises(AlreadyExists):
        owner.members.add("ana", role="analyst")
    with pytest.raises(InvalidInput, match="role"):
        owner.members.add("carl", role="emperor")
    with pytest.raises(Forbidden):
        analyst.members.add("mallory", role="owner")
    with pytest.raises(Forbidden):
        analyst.members.list()


def test_dataset_handles_card_and_mock(analyst: insitu.client.NodeClient) -> None:
    listed = analyst.datasets.list()
    assert isinstance(listed, Listing) and [d.name for d in listed] == ["people"]
    frame = listed.to_frame()
    assert list(frame["name"]) == ["people"] and "<table" in listed._repr_html_()
    ds = analyst.dataset("people")
    assert isinstance(ds, Dataset) and isinstance(ds.card, Card)
    assert ds.card.column_names == ["person_id", "age", "region", "income"]
    assert ds.rows is None  # the row count is for owners
    mock = ds.mock
    assert isinstance(mock, pd.DataFrame) and len(mock) == 1000
    assert list(mock.columns) == ds.card.column_names
    assert set(mock["region"].dropna()) <= {"north", "south"}
    assert mock["age"].between(0, 120).all()
    assert len(ds.mock_rows(7)) == 7
    assert "age" in ds._repr_html_()


def test_unknown_dataset_is_not_found(analyst: insitu.client.NodeClient) -> None:
    with pytest.raises(NotFound):
        analyst.dataset("nope")


def test_dataset_add_accepts_card_objects_and_files(
    owner: insitu.client.NodeClient, tmp_path: Path, csv_file: Path
) -> None:
    seen: list[tuple[int, int]] = []
    card_path = tmp_path / "card.yaml"
    card_path.write_text(yaml.safe_dump({k: v for k, v in CARD.items() if k != "name"}))
    ds = owner.datasets.add(
        "people_yaml", path=csv_file, card=card_path, progress=lambda s, t: seen.append((s, t))
    )
    assert ds.rows == 20 and ds.content_hash
    size = csv_file.stat().st_size
    assert seen and seen[-1] == (size, size)
    with pytest.raises(InvalidInput, match="card names dataset 'people'"):
        owner.datasets.add("people_obj", path=csv_file, card=Card.from_mapping(CARD))
    card = Card.from_mapping({**CARD, "name": "people_obj"})
    again = owner.datasets.add("people_obj", path=csv_file, card=card, progress=False)
    assert again.card.name == "people_obj"
    assert {"people_yaml", "people_obj"} <= {d.name for d in owner.datasets.list()}
    with pytest.raises(AlreadyExists):
        owner.datasets.add("people_obj", path=csv_file, card=card)
    owner.datasets.delete("people_obj")
    with pytest.raises(NotFound):
        owner.dataset("people_obj")


def test_card_breaking_csv_registers_nothing(
    owner: insitu.client.NodeClient, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,age,region,income\n1,30,north,10\n2,400,west,20\n")
    with pytest.raises(CardViolation) as info:
        owner.datasets.add("people_bad", path=bad, card=card_for("people_bad"))
    assert info.value.details  # says which rows and why
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("this is not,a table\n\x00\x01\n")
    with pytest.raises(InvalidInput):
        owner.datasets.add("people_garbage", path=garbage, card=card_for("people_garbage"))
    names = {d.name for d in owner.datasets.list()}
    assert "people_bad" not in names and "people_garbage" not in names


def test_analyst_cannot_add_datasets(analyst: insitu.client.NodeClient, csv_file: Path) -> None:
    with pytest.raises(Forbidden):
        analyst.datasets.add("sneaky", path=csv_file, card=card_for("sneaky"))


def test_client_side_card_errors(owner: insitu.client.NodeClient, csv_file: Path) -> None:
    with pytest.raises(InvalidInput):
        owner.datasets.add("x", path=csv_file, card={"columns": []})
    with pytest.raises(TypeError):
        owner.datasets.add("x", path=csv_file, card=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        owner.datasets.add("x", path=csv_file.parent / "missing.csv", card=card_for("x"))


def test_oversized_upload_is_refused(tmp_path: Path) -> None:
    with served_node(tmp_path / "small", name="small", limits={"max_upload_bytes": 256}) as node:
        big = people_csv(tmp_path / "big.csv", rows=100)
        assert big.stat().st_size > 256
        with node.client() as owner:
            with pytest.raises(PayloadTooLarge):
                owner.datasets.add("big", path=big, card=card_for("big"))
            assert list(owner.datasets.list()) == []
            assert list((node.data_dir / "uploads").iterdir()) == []


def test_tls_with_a_ca_bundle(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with served_node(tmp_path / "tls", name="tls", tls=(cert, key)) as node:
        assert node.url.startswith("https://")
        with connect(node.url, token=node.owner_token, verify=cert) as trusted:
            assert trusted.me.name == "owner"
        untrusted = connect(node.url, token=node.owner_token)
        with untrusted, pytest.raises(Unavailable, match="TLS"):
            _ = untrusted.me
    with pytest.raises(InvalidInput, match="CA bundle"):
        connect("https://127.0.0.1:1", token="ins_x", verify=tmp_path / "missing.pem")
