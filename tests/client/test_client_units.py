"""Client pieces that need no node: error decoding, source capture, records, card loading."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from insitu import errors as errors_module
from insitu.client.datasets import load_card
from insitu.client.records import (
    IssuedToken,
    Listing,
    MemberInfo,
    TokenInfo,
    decode_result,
)
from insitu.client.requests import RequestDenied, function_source
from insitu.client.transport import decode_error
from insitu.errors import (
    BudgetExceeded,
    CardViolation,
    Conflict,
    InsituError,
    InternalError,
    InvalidInput,
    SecurityError,
    Unavailable,
    all_error_classes,
)
from insitu.tables.card import Card


def _response(status: int, body: bytes, content_type: str = "application/json") -> httpx.Response:
    request = httpx.Request("POST", "http://node.test/v1/datasets")
    return httpx.Response(
        status, content=body, headers={"content-type": content_type}, request=request
    )


def _wire(code: str, message: str = "m", details: object = None) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": details}}).encode()


ROOT_CLASSES = {
    cls.code: cls
    for cls in vars(errors_module).values()
    if isinstance(cls, type) and issubclass(cls, InsituError)
}


@pytest.mark.parametrize("code", sorted(ROOT_CLASSES))
def test_every_error_code_decodes_to_its_class(code: str) -> None:
    exc = decode_error(_response(400, _wire(code, "why", {"rows": [3]})))
    assert type(exc) is ROOT_CLASSES[code]
    assert exc.message == "why" and exc.details == {"rows": [3]}


def test_a_code_reused_by_a_subclass_decodes_to_the_general_class() -> None:
    class PickySecurityError(SecurityError):  # same code, its own constructor
        def __init__(self, reason: int) -> None:
            super().__init__("refused")

    exc = decode_error(_response(401, _wire("security_error", "no")))
    assert type(exc) is SecurityError and PickySecurityError.code == "security_error"


def test_subclasses_still_catch_as_their_parents() -> None:
    exc = decode_error(_response(422, _wire("card_violation")))
    assert isinstance(exc, CardViolation) and isinstance(exc, InvalidInput)
    assert isinstance(decode_error(_response(402, _wire("budget_exceeded"))), BudgetExceeded)


def test_unknown_codes_and_bodies_without_an_error() -> None:
    unknown = decode_error(_response(418, _wire("from_the_future", "new")))
    assert type(unknown) is InsituError and unknown.message == "new"
    gateway = decode_error(_response(502, b"<html>bad gateway</html>", "text/html"))
    assert isinstance(gateway, Unavailable) and "502" in gateway.message
    odd = decode_error(_response(500, b"oops", "text/plain"))
    assert isinstance(odd, InternalError) and "/v1/datasets" in odd.message


def test_request_denied_is_a_conflict_with_its_own_code() -> None:
    assert issubclass(RequestDenied, Conflict)
    assert RequestDenied.code != Conflict.code
    assert all_error_classes()["conflict"] is Conflict


def test_function_source_is_dedented() -> None:
    def inner(people):  # type: ignore[no-untyped-def]
        return len(people)

    source = function_source(inner)
    assert source.startswith("def inner(people):")
    assert function_source("    def f(x):\n        return x\n").startswith("def f(x):")
    with pytest.raises(TypeError):
        function_source(print)  # type: ignore[arg-type]


def test_issued_token_repr_hides_the_token() -> None:
    token = "ins_" + "s" * 43
    issued = IssuedToken(MemberInfo("ana", "analyst"), token, TokenInfo(3, "ana"))
    assert token not in repr(issued) and token not in str(issued) and token not in f"{issued}"
    assert "ana" in repr(issued) and issued.token == token


def test_listing_is_a_list_and_a_table() -> None:
    items = Listing([MemberInfo("a", "owner"), MemberInfo("b", "analyst")])
    assert [m.name for m in items] == ["a", "b"] and len(items) == 2
    frame = items.to_frame()
    assert list(frame["role"]) == ["owner", "analyst"]
    assert "<table" in items._repr_html_() and "(none)" in Listing()._repr_html_()


def test_decode_result_by_media_type(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    frame.to_parquet(tmp_path / "f.parquet")
    data = (tmp_path / "f.parquet").read_bytes()
    assert decode_result(data, "application/vnd.apache.parquet").equals(frame)
    assert decode_result(b'{"n": 3}', "application/json; charset=utf-8") == {"n": 3}
    assert decode_result(b"\x00\x01", "application/octet-stream") == b"\x00\x01"
    with pytest.raises(InternalError):
        decode_result(b"{nope", "application/json")


def test_load_card_names_the_card(tmp_path: Path) -> None:
    mapping = {"columns": [{"name": "x", "type": "integer"}]}
    assert load_card(mapping, name="t").name == "t"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(mapping))
    assert load_card(path, name="u").name == "u"
    assert load_card(str(path), name="u").name == "u"
    assert load_card(Card.from_mapping(mapping, name="v"), name="v").name == "v"
    with pytest.raises(InvalidInput):
        load_card(Card.from_mapping(mapping, name="v"), name="w")
    with pytest.raises(InvalidInput):
        load_card(tmp_path / "missing.yaml", name="t")


def test_top_level_names_load_the_client_lazily() -> None:
    import insitu
    import insitu.client

    assert insitu.NodeClient is insitu.client.NodeClient
    assert insitu.Request is insitu.client.Request
    with pytest.raises(AttributeError):
        _ = insitu.NoSuchThing  # type: ignore[attr-defined]
