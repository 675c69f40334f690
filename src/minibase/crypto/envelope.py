"""Envelope encryption at rest: per-org data keys, wrapped by the master key.

A data key is 32 random bytes (AES-256-GCM), one per organization, stored only wrapped:
``AES-GCM(master key, nonce, data key, associated data = label | org id)`` (see
:func:`wrap_data_key`), beside the id of the master key that wrapped it.

A value sealed under a data key (:meth:`DataKey.seal`) is

    MAGIC (4 bytes, ``ff 4d 42 65``) | version (1 byte, 1) | nonce (12) | ciphertext + tag

with a fresh random 96-bit nonce per value, and as associated data the org id, the
table, the column and the row's id (:func:`associated_data`): a ciphertext copied to
another row, column or org fails its tag and :class:`Undecryptable` is raised, never
garbage. The magic tells sealed values from those written before encryption (JSON, text
or Yjs updates never start with ``0xff 'M' 'B' 'e'``), which :func:`is_sealed` reads as
they are.
"""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibase.errors import Undecryptable

__all__ = ["DataKey", "Undecryptable", "new_nonce", "unwrap_data_key", "wrap_data_key"]

MAGIC = b"\xffMBe"
VERSION = 1
HEADER = MAGIC + bytes([VERSION])
NONCE_BYTES = 12
OVERHEAD = len(HEADER) + NONCE_BYTES + 16
_WRAP_LABEL = b"minibase data key v1\0"


def new_nonce() -> bytes:
    """A fresh random 96-bit nonce (the only way nonces are made here)."""
    return secrets.token_bytes(NONCE_BYTES)


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def wrap_data_key(master: bytes, org_id: str, data_key: bytes) -> bytes:
    """``data_key`` sealed under ``master``, bound to ``org_id``."""
    nonce = new_nonce()
    return nonce + AESGCM(master).encrypt(nonce, data_key, _WRAP_LABEL + org_id.encode())


def unwrap_data_key(master: bytes, org_id: str, wrapped: bytes) -> bytes:
    wrapped = bytes(wrapped)
    try:
        return AESGCM(master).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _WRAP_LABEL + org_id.encode()
        )
    except InvalidTag:
        raise Undecryptable(f"the data key of organization {org_id} does not unwrap") from None


def associated_data(org_id: str, table: str, column: str, row_id: str) -> bytes:
    """What a sealed value is bound to (``\\0`` cannot occur in ids or names)."""
    return f"{org_id}\0{table}\0{column}\0{row_id}".encode()


def is_sealed(value: bytes) -> bool:
    return value[:4] == MAGIC


class DataKey:
    """One org's data key, ready to seal and open values (never logged or stored plain)."""

    __slots__ = ("_aead", "org_id")

    def __init__(self, org_id: str, key: bytes) -> None:
        self.org_id = org_id
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"DataKey({self.org_id!r}, <hidden>)"

    def seal(self, table: str, column: str, row_id: str, plain: bytes) -> bytes:
        nonce = new_nonce()
        aad = associated_data(self.org_id, table, column, row_id)
        return HEADER + nonce + self._aead.encrypt(nonce, plain, aad)

    def open(self, table: str, column: str, row_id: str, sealed: bytes) -> bytes:
        if sealed[4:5] != HEADER[4:5]:
            raise Undecryptable(f"{table}.{column} of {row_id}: unknown envelope version")
        nonce = sealed[5 : 5 + NONCE_BYTES]
        aad = associated_data(self.org_id, table, column, row_id)
        try:
            return self._aead.decrypt(nonce, sealed[5 + NONCE_BYTES :], aad)
        except InvalidTag:
            raise Undecryptable(
                f"{table}.{column} of {row_id} in organization {self.org_id} does not decrypt "
                "(it was moved from another row or org, or altered)"
            ) from None
