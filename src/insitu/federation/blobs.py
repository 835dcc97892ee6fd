"""Large binary parts of a collaboration's result, kept beside its JSON rather than inside it.

A computation may return ``bytes`` as a top-level value of its output (a
vector of 10^6 floats, say). The result party's node stores each such value
once as a file addressed by its SHA-256 and puts a reference in the JSON
instead: ``{"blob": <sha256 hex>, "bytes": <size>}``. The result's hash is
taken over the JSON with the references, so it binds the bytes too. Clients
fetch the bytes by hash and check them against it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from insitu.errors import InvalidInput

BLOB_KEYS = frozenset({"blob", "bytes"})


def is_ref(value: object) -> bool:
    """Whether ``value`` is a blob reference."""
    return (
        isinstance(value, Mapping)
        and set(value) == BLOB_KEYS
        and isinstance(value["blob"], str)
        and isinstance(value["bytes"], int)
    )


def externalise(output: Mapping[str, Any], put: Callable[[bytes], str]) -> dict[str, Any]:
    """``output`` with each top-level ``bytes`` value stored by ``put`` and replaced by its ref."""
    out: dict[str, Any] = {}
    for key, value in output.items():
        if isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            out[key] = {"blob": put(data), "bytes": len(data)}
        else:
            out[key] = value
    return out


def refs(result: Mapping[str, Any]) -> dict[str, str]:
    """Key → SHA-256 of every blob the result refers to."""
    return {k: str(v["blob"]) for k, v in result.items() if is_ref(v)}


def internalise(result: Mapping[str, Any], fetch: Callable[[str], bytes]) -> dict[str, Any]:
    """``result`` with every blob reference replaced by its bytes, each checked against its hash.

    Raises :class:`InvalidInput` when fetched bytes do not match their reference.
    """
    out = dict(result)
    for key, digest in refs(result).items():
        data = fetch(digest)
        if hashlib.sha256(data).hexdigest() != digest or len(data) != result[key]["bytes"]:
            raise InvalidInput(f"blob {key!r} of the result does not match its hash")
        out[key] = data
    return out


__all__ = ["BLOB_KEYS", "externalise", "internalise", "is_ref", "refs"]
