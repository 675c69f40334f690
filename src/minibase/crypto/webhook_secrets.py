"""Webhook signing secrets at rest: sealed with AES-GCM, never stored in plaintext.

The one place that seals and opens them (:func:`seal_secret`, :func:`open_secret`), so
that the key they are sealed under can change in one place. Today it is derived (HKDF,
per purpose) from the instance key: ``MINIBASE_MASTER_KEY`` when set, else the key file
``master.key`` in the data dir (one base64 32-byte key per line, the first is current),
created with mode 0600 at first use (``crypto/master_keys.py``). Every key the instance
holds opens what it sealed, so a master key rotation leaves webhook secrets readable.
The organization id and the webhook id are the associated data, so a sealed secret
copied to another webhook's row does not open.

A sealed value is ``b"\\x01" + nonce (12 bytes) + ciphertext``; the leading byte names
the scheme, so another one (a per-org data key) can be told apart later.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from minibase.config import Settings
from minibase.crypto.master_keys import key_file_path, load_master_keys

SCHEME = b"\x01"
_NONCE = 12
_INFO = b"minibase webhook secrets v1"


class SecretUnreadable(Exception):
    """A sealed secret does not open under this instance's key."""


class WebhookKey:
    """The AES-GCM keys webhook secrets are sealed under (never logged or stored): one
    per master key, the current first; older ones still open what they sealed."""

    __slots__ = ("_aeads",)

    def __init__(self, *instance_keys: bytes) -> None:
        self._aeads = [
            AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(k))
            for k in instance_keys
        ]

    def __repr__(self) -> str:
        return "WebhookKey(<hidden>)"


def _aad(org_id: str, webhook_id: str) -> bytes:
    return f"{org_id}\0{webhook_id}".encode()


def seal_secret(key: WebhookKey, org_id: str, webhook_id: str, secret: str) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return SCHEME + nonce + key._aeads[0].encrypt(nonce, secret.encode(), _aad(org_id, webhook_id))


def open_secret(key: WebhookKey, org_id: str, webhook_id: str, sealed: bytes) -> str:
    sealed = bytes(sealed)
    if sealed[:1] != SCHEME:
        raise SecretUnreadable("unknown sealing scheme")
    for aead in key._aeads:
        try:
            plain = aead.decrypt(
                sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], _aad(org_id, webhook_id)
            )
        except InvalidTag:
            continue
        return plain.decode()
    raise SecretUnreadable("the secret does not open under this instance's keys")


@lru_cache(maxsize=8)
def _cached(master: str, previous: str, data_dir: str, key_file: bytes) -> WebhookKey:
    settings = Settings(data_dir=Path(data_dir), master_key=master, master_keys_previous=previous)
    return WebhookKey(*load_master_keys(settings).keys)


def webhook_key(settings: Settings) -> WebhookKey:
    """The keys of this instance's webhook secrets (reads or makes the key file once,
    and again after ``minibase keys rotate-master`` changed it)."""
    master = settings.master_key.get_secret_value()
    stamp = b""
    if not master:
        path = key_file_path(settings)
        stamp = path.read_bytes() if path.exists() else b""
    return _cached(
        master, settings.master_keys_previous.get_secret_value(), str(settings.data_dir), stamp
    )
