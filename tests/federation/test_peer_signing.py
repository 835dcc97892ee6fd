"""Signed node-to-node requests: each refusal, opacity, and nonce handling."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.crypto.rng import DeterministicRng
from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import SecurityError
from insitu.federation.nonces import MemoryNonceStore
from insitu.federation.signing import (
    HEADER_BODY_SHA256,
    HEADER_KEY,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNED_HEADERS,
    RefusalReason,
    RequestRefused,
    sign_request,
    verify_request,
)

KEY = SigningKey.generate()
OTHER = SigningKey.generate()
KEY_ID = KEY.public_key.fingerprint()
NOW = 1_800_000_000.0
PATH = "/peer/v1/collaborations/c1/messages?x=1"
BODY = b"frame bytes \x00\x01"


def lookup(key_id: str) -> VerifyKey | None:
    return KEY.public_key if key_id == KEY_ID else None


def signed(**changes: object) -> dict[str, str]:
    args: dict[str, object] = {
        "method": "POST",
        "path": PATH,
        "body": BODY,
        "now": NOW,
        "key_id": KEY_ID,
    }
    args.update(changes)
    return sign_request(KEY, **args)  # type: ignore[arg-type]


def verify(
    headers: dict[str, str], nonces: MemoryNonceStore | None = None, **changes: object
) -> str:
    args: dict[str, object] = {"method": "POST", "path": PATH, "body": BODY, "now": NOW}
    args.update(changes)
    return verify_request(
        headers,
        lookup_key=lookup,
        nonces=nonces if nonces is not None else MemoryNonceStore(),
        **args,  # type: ignore[arg-type]
    )


def refusal(headers: dict[str, str], **changes: object) -> RequestRefused:
    with pytest.raises(RequestRefused) as info:
        verify(headers, **changes)
    return info.value


def test_a_signed_request_verifies_and_names_its_key() -> None:
    headers = signed()
    assert set(headers) == set(SIGNED_HEADERS)
    assert verify(headers) == KEY_ID


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in signed().items()}
    assert verify(headers) == KEY_ID


@pytest.mark.parametrize("missing", SIGNED_HEADERS)
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed()
    del headers[missing]
    assert refusal(headers).reason is RefusalReason.MALFORMED


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (HEADER_TIMESTAMP, "soon"),
        (HEADER_NONCE, "short"),
        (HEADER_BODY_SHA256, "xyz"),
        (HEADER_SIGNATURE, "!!!"),
        (HEADER_SIGNATURE, "AAAA"),  # decodes, but not 64 bytes
        (HEADER_KEY, "white space"),
    ],
)
def test_malformed_headers_are_refused(header: str, value: str) -> None:
    headers = signed()
    headers[header] = value
    assert refusal(headers).reason is RefusalReason.MALFORMED


def test_unknown_key_is_refused() -> None:
    headers = sign_request(
        OTHER, method="POST", path=PATH, body=BODY, now=NOW, key_id=OTHER.public_key.fingerprint()
    )
    assert refusal(headers).reason is RefusalReason.UNKNOWN_KEY


def test_a_signature_by_another_key_under_our_key_id_is_refused() -> None:
    headers = sign_request(OTHER, method="POST", path=PATH, body=BODY, now=NOW, key_id=KEY_ID)
    assert refusal(headers).reason is RefusalReason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "changes",
    [
        {"method": "PUT"},
        {"path": "/peer/v1/collaborations/c2/messages?x=1"},
        {"path": "/peer/v1/collaborations/c1/messages?x=2"},
    ],
)
def test_method_and_path_with_query_are_covered(changes: dict[str, object]) -> None:
    assert refusal(signed(), **changes).reason is RefusalReason.BAD_SIGNATURE


def test_a_changed_body_is_refused() -> None:
    assert refusal(signed(), body=BODY + b"!").reason is RefusalReason.BODY_MISMATCH


def test_a_body_hash_header_rewritten_to_match_a_new_body_breaks_the_signature() -> None:
    forged = signed(body=b"other body")
    headers = signed()
    headers[HEADER_BODY_SHA256] = forged[HEADER_BODY_SHA256]
    assert refusal(headers, body=b"other body").reason is RefusalReason.BAD_SIGNATURE


@pytest.mark.parametrize("field", [HEADER_TIMESTAMP, HEADER_NONCE, HEADER_KEY])
def test_every_header_is_covered_by_the_signature(field: str) -> None:
    headers = signed()
    headers[field] = {
        HEADER_TIMESTAMP: str(int(NOW) + 1),
        HEADER_NONCE: "A" * 22,
        HEADER_KEY: KEY_ID,
    }[field]
    if field == HEADER_KEY:  # the same key id: flip the signature instead
        sig = headers[HEADER_SIGNATURE]
        headers[HEADER_SIGNATURE] = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert refusal(headers).reason is RefusalReason.BAD_SIGNATURE


def test_stale_and_future_timestamps_are_refused_at_the_skew_boundary() -> None:
    assert verify(signed(now=NOW - 300)) == KEY_ID
    assert verify(signed(now=NOW + 300)) == KEY_ID
    assert refusal(signed(now=NOW - 301)).reason is RefusalReason.STALE
    assert refusal(signed(now=NOW + 301)).reason is RefusalReason.FUTURE
    assert refusal(signed(now=NOW - 20), max_skew_seconds=10).reason is RefusalReason.STALE


def test_a_replayed_request_is_refused() -> None:
    nonces = MemoryNonceStore()
    headers = signed()
    verify(headers, nonces)
    with pytest.raises(RequestRefused) as info:
        verify(headers, nonces, now=NOW + 5)
    assert info.value.reason is RefusalReason.REPLAY


def test_a_bad_attempt_does_not_burn_the_nonce() -> None:
    nonces = MemoryNonceStore()
    headers = signed()
    with pytest.raises(RequestRefused):
        verify(headers, nonces, body=b"tampered")
    assert verify(headers, nonces) == KEY_ID
    assert len(nonces) == 1


def test_every_refusal_looks_the_same_to_the_caller() -> None:
    cases = [
        refusal({}),
        refusal(signed(now=NOW - 1000)),
        refusal(signed(), body=b"x"),
        refusal(signed(), method="GET"),
    ]
    assert {c.reason for c in cases} == {
        RefusalReason.MALFORMED,
        RefusalReason.STALE,
        RefusalReason.BODY_MISMATCH,
        RefusalReason.BAD_SIGNATURE,
    }
    for case in cases:
        assert isinstance(case, SecurityError)
        assert str(case) == "request refused"
        assert case.to_dict() == {
            "code": "security_error",
            "message": "request refused",
            "details": None,
        }
        assert case.__suppress_context__


def test_signing_is_deterministic_given_the_nonce() -> None:
    a = signed(nonce="n" * 22)
    b = signed(nonce="n" * 22)
    assert a == b
    c = signed(rng=DeterministicRng(1))
    d = signed(rng=DeterministicRng(1))
    assert c[HEADER_NONCE] == d[HEADER_NONCE] != a[HEADER_NONCE]


@pytest.mark.parametrize(
    "changes",
    [{"key_id": "bad id"}, {"nonce": "??"}, {"now": float("nan")}, {"path": "/a\nb"}],
)
def test_signing_refuses_bad_arguments(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        signed(**changes)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=100), st.integers(0, 255))
def test_any_flipped_body_byte_is_refused(body: bytes, where: int, flip: int) -> None:
    headers = signed(body=body)
    if not body:
        tampered = b"\x00"
    else:
        i = where % len(body)
        tampered = body[:i] + bytes([body[i] ^ (flip or 1)]) + body[i + 1 :]
    assert refusal(headers, body=tampered).reason is RefusalReason.BODY_MISMATCH
    assert verify(headers, body=body) == KEY_ID
