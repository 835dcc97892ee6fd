"""Ed25519 signatures on node-to-node HTTP requests, with replay protection.

Every call from one node to another carries five headers:

``X-Insitu-Key``
    Identifier of the signing key (by convention its
    :meth:`~insitu.crypto.signing.VerifyKey.fingerprint`).
``X-Insitu-Timestamp``
    Unix time in whole seconds when the request was signed.
``X-Insitu-Nonce``
    16 random bytes, URL-safe base64 (22 characters); never reused.
``X-Insitu-Body-SHA256``
    Hex SHA-256 of the exact body bytes.
``X-Insitu-Signature``
    URL-safe base64 of the Ed25519 signature (RFC 8032) over :func:`signing_input`.

The signed input binds a domain tag, the method, the path with its query, the
key id, the timestamp, the nonce and the body hash, one per line, in the spirit
of RFC 9421 (HTTP Message Signatures) with a fixed list of covered components.

Threat model: the network is hostile (it may read, drop, delay, replay, reorder
and alter requests); TLS protects confidentiality, these signatures protect
authenticity and freshness even where TLS ends early (a proxy). A verifier
accepts a request only if the key is known, the signature and body hash match,
the timestamp is within ``max_skew_seconds`` of its clock, and the nonce has not
been seen for that key. Every refusal raises the same opaque
:class:`RequestRefused`; the precise :class:`RefusalReason` sits on its
``reason`` attribute for the verifier's own log and is never sent back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Callable, Mapping
from enum import StrEnum

from insitu.crypto.hashing import constant_time_equal
from insitu.crypto.rng import Rng, system_rng
from insitu.crypto.signing import SigningKey, VerifyKey
from insitu.errors import SecurityError
from insitu.federation.nonces import NonceStore

HEADER_KEY = "X-Insitu-Key"
HEADER_TIMESTAMP = "X-Insitu-Timestamp"
HEADER_NONCE = "X-Insitu-Nonce"
HEADER_BODY_SHA256 = "X-Insitu-Body-SHA256"
HEADER_SIGNATURE = "X-Insitu-Signature"
SIGNED_HEADERS = (HEADER_KEY, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_BODY_SHA256, HEADER_SIGNATURE)

DOMAIN = b"insitu-peer-request-v1"
DEFAULT_MAX_SKEW_SECONDS = 300

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


class RefusalReason(StrEnum):
    """Why a signed request was refused: for the verifier's log only."""

    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    STALE = "stale"
    FUTURE = "future"
    BODY_MISMATCH = "body_mismatch"
    BAD_SIGNATURE = "bad_signature"
    REPLAY = "replay"


class RequestRefused(SecurityError):
    """A signed request was refused. Deliberately says nothing more.

    ``reason`` (a :class:`RefusalReason`) and ``key_id`` are for the
    verifier's log; they are not part of ``message``, ``details`` or
    :meth:`to_dict`, which are the same for every refusal.
    """

    def __init__(self, reason: RefusalReason, *, key_id: str | None = None) -> None:
        super().__init__("request refused")
        self.reason = reason
        self.key_id = key_id


def body_sha256(body: bytes | bytearray | memoryview) -> str:
    """Hex SHA-256 of a request body."""
    return hashlib.sha256(body).hexdigest()


def signing_input(
    method: str, path: str, key_id: str, timestamp: str, nonce: str, body_hash: str
) -> bytes:
    """The exact bytes that are signed: domain tag and components, one per line."""
    parts = (method.upper(), path, key_id, timestamp, nonce, body_hash)
    if any("\n" in part for part in parts):
        raise ValueError("signed components must not contain line breaks")
    return DOMAIN + b"\n" + "\n".join(parts).encode("utf-8")


def new_nonce(rng: Rng = system_rng) -> str:
    """A fresh 128-bit nonce as 22 URL-safe base64 characters."""
    return _b64(rng(16))


def sign_request(
    key: SigningKey,
    *,
    method: str,
    path: str,
    body: bytes | bytearray | memoryview,
    now: float,
    nonce: str | None = None,
    key_id: str,
    rng: Rng = system_rng,
) -> dict[str, str]:
    """Sign one request and return the headers to send with it.

    Parameters
    ----------
    key:
        This node's Ed25519 signing key.
    method, path:
        HTTP method and the request target: path with its query string,
        exactly as the server will see it (no scheme or host).
    body:
        The exact body bytes (``b""`` for none).
    now:
        Unix time in seconds (rounded down to whole seconds).
    nonce:
        A fresh nonce; drawn from ``rng`` when omitted. Never reuse one.
    key_id:
        How the verifier finds the public key (by convention its fingerprint).
    """
    if not _KEY_ID_RE.match(key_id):
        raise ValueError("key_id must be 1-128 characters of [A-Za-z0-9_.:-]")
    if nonce is None:
        nonce = new_nonce(rng)
    elif not _NONCE_RE.match(nonce):
        raise ValueError("nonce must be 16-64 URL-safe base64 characters")
    if not math.isfinite(now) or now < 0:
        raise ValueError("now must be a finite, non-negative Unix time")
    timestamp = str(int(now))
    body_hash = body_sha256(body)
    signature = key.sign(signing_input(method, path, key_id, timestamp, nonce, body_hash))
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_BODY_SHA256: body_hash,
        HEADER_SIGNATURE: _b64(signature),
    }


def verify_request(
    headers: Mapping[str, str],
    *,
    method: str,
    path: str,
    body: bytes | bytearray | memoryview,
    now: float,
    lookup_key: Callable[[str], VerifyKey | None],
    nonces: NonceStore,
    max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS,
) -> str:
    """Check a signed request and return the id of the key that signed it.

    Checks run cheapest first; the nonce is recorded only after the signature
    holds, so unsigned traffic cannot fill the nonce store or burn nonces.

    Parameters
    ----------
    headers:
        Request headers; names are matched case-insensitively.
    method, path, body:
        As received: method, request target with query, raw body bytes.
    now:
        The verifier's Unix time in seconds.
    lookup_key:
        Returns the public key registered under a key id, or ``None``.
    nonces:
        Where seen nonces are remembered (see :class:`NonceStore`).
    max_skew_seconds:
        Largest accepted difference between ``now`` and the timestamp.

    Raises
    ------
    RequestRefused
        For every failure, with one opaque message; see ``reason``.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        key_id, timestamp, nonce, body_hash, signature_text = (
            lowered[h.lower()] for h in SIGNED_HEADERS
        )
    except KeyError:
        raise RequestRefused(RefusalReason.MALFORMED) from None
    if not (
        _KEY_ID_RE.match(key_id)
        and _TIMESTAMP_RE.match(timestamp)
        and _NONCE_RE.match(nonce)
        and _HEX64_RE.match(body_hash)
        and "\n" not in method + path
    ):
        raise RequestRefused(RefusalReason.MALFORMED) from None
    signature = _unb64(signature_text)
    if signature is None or len(signature) != 64:
        raise RequestRefused(RefusalReason.MALFORMED, key_id=key_id) from None
    public_key = lookup_key(key_id)
    if public_key is None:
        raise RequestRefused(RefusalReason.UNKNOWN_KEY, key_id=key_id) from None
    signed_at = int(timestamp)
    if signed_at < now - max_skew_seconds:
        raise RequestRefused(RefusalReason.STALE, key_id=key_id) from None
    if signed_at > now + max_skew_seconds:
        raise RequestRefused(RefusalReason.FUTURE, key_id=key_id) from None
    if not constant_time_equal(body_sha256(body), body_hash):
        raise RequestRefused(RefusalReason.BODY_MISMATCH, key_id=key_id) from None
    message = signing_input(method, path, key_id, timestamp, nonce, body_hash)
    try:
        public_key.verify(signature, message)
    except SecurityError:
        raise RequestRefused(RefusalReason.BAD_SIGNATURE, key_id=key_id) from None
    expires_at = float(signed_at + max_skew_seconds)
    if not nonces.check_and_add(key_id, nonce, expires_at=expires_at, now=now):
        raise RequestRefused(RefusalReason.REPLAY, key_id=key_id) from None
    return key_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", text):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


__all__ = [
    "DEFAULT_MAX_SKEW_SECONDS",
    "HEADER_BODY_SHA256",
    "HEADER_KEY",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SIGNED_HEADERS",
    "RefusalReason",
    "RequestRefused",
    "body_sha256",
    "new_nonce",
    "sign_request",
    "signing_input",
    "verify_request",
]
