"""Large binary result values kept beside the JSON: stored by hash, referenced, checked on fetch."""

from __future__ import annotations

import hashlib

import pytest

from insitu.errors import InvalidInput
from insitu.federation.blobs import externalise, internalise, is_ref, refs


def test_bytes_values_become_references_and_come_back_checked() -> None:
    store: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        store[digest] = data
        return digest

    output = {"sum": b"\x00" * 16, "length": 2, "nested": {"keep": "as is"}}
    stored = externalise(output, put)
    digest = hashlib.sha256(b"\x00" * 16).hexdigest()
    assert stored == {
        "sum": {"blob": digest, "bytes": 16},
        "length": 2,
        "nested": {"keep": "as is"},
    }
    assert refs(stored) == {"sum": digest} and is_ref(stored["sum"]) and not is_ref(output)
    assert internalise(stored, store.__getitem__) == output


@pytest.mark.parametrize("fetched", [b"\x01" * 16, b"\x00" * 15], ids=["other-bytes", "truncated"])
def test_fetched_bytes_that_do_not_match_the_reference_are_refused(fetched: bytes) -> None:
    stored = {"sum": {"blob": hashlib.sha256(b"\x00" * 16).hexdigest(), "bytes": 16}}
    with pytest.raises(InvalidInput, match="does not match"):
        internalise(stored, lambda _digest: fetched)


def test_mappings_that_only_look_like_references_are_left_alone() -> None:
    result = {"a": {"blob": "x", "bytes": "16"}, "b": {"blob": "x", "bytes": 1, "more": 0}}
    assert refs(result) == {}
    assert internalise(result, lambda _d: b"") == result
