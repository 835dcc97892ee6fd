"""Registering datasets, cards and mocks over the HTTP API; bad input loses nothing."""

from __future__ import annotations

import io

import pandas as pd

from tests.node_api.conftest import CARD, Api


def test_register_list_card_and_mock(api: Api) -> None:
    r = api.register()
    assert r.status_code == 201, r.text
    assert r.json()["rows"] == 3
    analyst = api.add_member("ana", "analyst")
    listed = api.client.get("/v1/datasets", headers=analyst).json()
    assert [d["name"] for d in listed] == ["persons"]
    assert "rows" not in listed[0] and "content_hash" not in listed[0]
    card = api.client.get("/v1/datasets/persons", headers=analyst).json()["card"]
    assert [c["name"] for c in card["columns"]] == ["person_id", "age", "region", "income"]
    mock = api.client.get("/v1/datasets/persons/mock?rows=50", headers=analyst)
    frame = pd.read_parquet(io.BytesIO(mock.content))
    assert list(frame.columns) == ["person_id", "age", "region", "income"] and len(frame) == 50
    assert set(frame["region"]) <= {"north", "south"}
    assert not set(frame["person_id"]) & {"p1", "p2", "p3"}


def test_analyst_cannot_register_or_read_rows(api: Api) -> None:
    analyst = api.add_member("ana", "analyst")
    assert api.client.put("/v1/uploads", content=b"x", headers=analyst).status_code == 403
    api.register()
    for path in ("/v1/datasets/persons/rows", "/v1/datasets/persons/data"):
        assert api.client.get(path, headers=analyst).status_code == 404


def test_rows_breaking_the_card_are_reported_and_nothing_is_kept(api: Api) -> None:
    bad = "person_id,age,region,income\np1,34,north,41000\np2,500,west,1\np3,abc,north,2\n"
    r = api.register(csv=bad)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "card_violation"
    assert "age" in err["message"] or "age" in str(err["details"])
    assert api.client.get("/v1/datasets", headers=api.owner).json() == []
    assert list(api.node.settings.uploads_dir.iterdir()) == []
    assert [
        p.name for p in api.node.settings.datasets_dir.iterdir() if not p.name.startswith(".")
    ] == []


def test_malformed_card_unknown_column_and_traversal(api: Api) -> None:
    card = {**CARD, "columns": [*CARD["columns"], {"name": "x", "type": "nonsense"}]}
    assert api.register(card=card).status_code == 422
    missing = {**CARD, "columns": CARD["columns"][:3]}
    r = api.register(card=missing)
    assert r.status_code == 422 and "income" in r.text
    r = api.register(name="../../etc/passwd")
    assert r.status_code == 422
    assert api.client.get("/v1/datasets", headers=api.owner).json() == []
    assert api.client.get("/v1/datasets/..%2F..%2Fetc", headers=api.owner).status_code == 404


def test_duplicate_name_is_refused(api: Api) -> None:
    assert api.register().status_code == 201
    r = api.register()
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_exists"


def test_oversized_upload_is_refused_and_not_kept(sqlite_api: Api) -> None:
    r = sqlite_api.client.put("/v1/uploads", content=b"a" * 10_000, headers=sqlite_api.owner)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert list(sqlite_api.node.settings.uploads_dir.iterdir()) == []

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(10):
            yield b"b" * 1000

    r = sqlite_api.client.put("/v1/uploads", content=chunks(), headers=sqlite_api.owner)
    assert r.status_code == 413
    assert list(sqlite_api.node.settings.uploads_dir.iterdir()) == []
