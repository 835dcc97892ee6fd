"""Ed25519 node identity keys: create, load, sign, verify (RFC 8032)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from insitu.errors import SecurityError


class SigningKey:
    """A node's private Ed25519 key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key from the OS CSPRNG."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise TypeError("not an Ed25519 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> VerifyKey:
        return VerifyKey(self._key.public_key())

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class VerifyKey:
    """A public Ed25519 key, written as URL-safe base64 of its 32 raw bytes."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            return cls(Ed25519PublicKey.from_public_bytes(raw))
        except ValueError:
            raise ValueError("not a valid Ed25519 public key") from None

    def raw(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def to_text(self) -> str:
        return base64.urlsafe_b64encode(self.raw()).decode().rstrip("=")

    def fingerprint(self) -> str:
        """Short, human-comparable fingerprint: first 16 hex digits of SHA-256."""
        return hashlib.sha256(self.raw()).hexdigest()[:16]

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`SecurityError` unless ``signature`` is valid."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise SecurityError("signature check failed") from None
