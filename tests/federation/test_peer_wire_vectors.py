"""Known-answer vectors for the v2 wire format, checked against an independent implementation."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from insitu.crypto.signing import SigningKey
from insitu.federation.messages import Chunker, Envelope
from insitu.federation.nonces import MemoryNonceStore
from insitu.federation.signing import sign_request, verify_request

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "peer_wire_v2.json").read_text(encoding="utf-8")
)


def test_request_signature_vector() -> None:
    v = VECTORS["request"]
    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["secret_key_hex"])))
    assert key.public_key.raw().hex() == v["public_key_hex"]
    assert key.public_key.fingerprint() == v["key_id"]
    body = v["body_utf8"].encode()
    headers = sign_request(
        key, method=v["method"], path=v["path"], body=body, now=v["now"], nonce=v["nonce"],
        key_id=v["key_id"],
    )  # fmt: skip
    assert headers == v["headers"]
    assert verify_request(
        headers, method=v["method"], path=v["path"], body=body, now=v["now"] + 100,
        lookup_key=lambda _k: key.public_key, nonces=MemoryNonceStore(),
    ) == v["key_id"]  # fmt: skip


def test_request_signature_checks_out_with_libsodium() -> None:
    v = VECTORS["request"]
    h = v["headers"]
    assert h["X-Insitu-Body-SHA256"] == hashlib.sha256(v["body_utf8"].encode()).hexdigest()
    signed = "\n".join(
        [
            "insitu-peer-request-v1",
            v["method"],
            v["path"],
            v["key_id"],
            h["X-Insitu-Timestamp"],
            h["X-Insitu-Nonce"],
            h["X-Insitu-Body-SHA256"],
        ]
    ).encode()
    signature = base64.urlsafe_b64decode(h["X-Insitu-Signature"] + "==")
    nacl.signing.VerifyKey(bytes.fromhex(v["public_key_hex"])).verify(signed, signature)


def test_frame_vectors_match_hand_built_frames() -> None:
    message = VECTORS["message_utf8"].encode()
    middle, last = VECTORS["frames"]
    assert bytes.fromhex(middle["total_sha256_hex"]) == bytes(32)  # only the last frame has it
    assert bytes.fromhex(last["total_sha256_hex"]) == hashlib.sha256(message).digest()
    for v in VECTORS["frames"]:
        total = bytes.fromhex(v["total_sha256_hex"])
        by_hand = b"IF" + b"\x02"  # magic, version
        for text in (v["collab_id"], v["sender"], v["receiver"], v["msg_id"]):
            by_hand += bytes([len(text)]) + text.encode()
        by_hand += v["chunk_index"].to_bytes(4, "big") + v["chunk_count"].to_bytes(4, "big")
        by_hand += v["total_size"].to_bytes(8, "big") + total + v["chunk_utf8"].encode()
        assert by_hand.hex() == v["hex"]
        frame = Envelope(
            v["collab_id"], v["sender"], v["receiver"], v["msg_id"], v["chunk_index"],
            v["chunk_count"], v["total_size"], total, v["chunk_utf8"].encode(),
        )  # fmt: skip
        assert frame.to_bytes().hex() == v["hex"]
        assert Envelope.from_bytes(bytes.fromhex(v["hex"])) == frame


def test_frame_vectors_are_what_the_chunker_sends() -> None:
    message = VECTORS["message_utf8"].encode()
    split = Chunker(10).split(message, collab_id="c1", sender="alice", receiver="bob", msg_id="m1")
    assert [f.to_bytes().hex() for f in split][1:] == [v["hex"] for v in VECTORS["frames"]]
