"""Opaque identifiers, random tokens and the clock (milliseconds since the epoch)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time


def _random_text(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode("ascii").rstrip("=").lower()


def new_id(prefix: str) -> str:
    """A new unguessable id such as ``org_...`` (128 random bits)."""
    return f"{prefix}_{_random_text(16)}"


def new_token(prefix: str) -> str:
    """A new secret token such as ``mb_sess_...`` (256 random bits)."""
    return f"{prefix}{_random_text(32)}"


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def now_ms() -> int:
    """Milliseconds since the Unix epoch, as ``Date.now()`` gives them."""
    return time.time_ns() // 1_000_000
