"""Sealing of stored idempotent answers.

Answers may carry secrets (signup and login return a session token, API key and
invitation creation their key or token), and tokens are never stored in plaintext: every
stored answer is sealed (AES-GCM) under a key derived from the request's own secrets (the
``Authorization`` header, the idempotency key, and the request, whose body for signup and
login holds the password). None of them is stored (the idempotency key is kept only as its
SHA-256), so the database alone reveals no answer, while the same retry can still be
answered.
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_CONTEXT = b"minibase-idempotency-seal-v1"
_NONCE_BYTES = 12


class Unsealable(Exception):
    """The sealed answer does not open with this key (another request's answer)."""


class Seal:
    """An AES-GCM key derived from one request's secrets; never stored."""

    def __init__(self, authorization: str, idempotency_key: str, request: bytes) -> None:
        self._key = hashlib.sha256(
            b"\0".join(
                [_CONTEXT, authorization.encode("utf-8"), idempotency_key.encode("ascii"), request]
            )
        ).digest()

    def seal(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + AESGCM(self._key).encrypt(nonce, plaintext, None)

    def unseal(self, sealed: bytes) -> bytes:
        try:
            return AESGCM(self._key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
        except InvalidTag:
            raise Unsealable() from None
