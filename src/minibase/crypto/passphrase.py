"""Archives sealed with a passphrase: scrypt, then AES-256-GCM over a stream of frames.

The sealed form is written and read as a stream (memory stays flat whatever the size):

    header  = b"MBSEAL1\\n" | salt (16) | log2(N) (1) | r (1) | p (1) | nonce prefix (7)
    frame*  = length of the ciphertext (4, big endian) | AES-GCM(plain chunk)

The key is ``scrypt(passphrase, salt, N, r, p)``. Frame ``i`` is sealed with the nonce
``prefix | i (4 bytes) | last (1 byte: 1 for the final frame, else 0)`` and the header as
associated data (the STREAM construction): frames cannot be reordered, dropped,
duplicated or moved to another archive, and a stream cut after any frame but the one
marked last is refused. A wrong passphrase fails on the first frame.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator, Iterator
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"MBSEAL1\n"
HEADER_SIZE = len(MAGIC) + 16 + 3 + 7
FRAME_SIZE = 64 * 1024
LOG2_N, R, P = 15, 8, 1
MAX_LOG2_N = 20


class SealError(Exception):
    """A sealed stream that cannot be opened: wrong passphrase, damaged or truncated."""


def is_sealed(head: bytes) -> bool:
    return head.startswith(MAGIC)


def _key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    if not 10 <= log2_n <= MAX_LOG2_N or not 1 <= r <= 16 or not 1 <= p <= 4:
        raise SealError("The archive's key derivation parameters are out of range.")
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class Sealer:
    """Seals a stream of plaintext chunks (``feed`` then ``close``) into frames."""

    def __init__(self, passphrase: str) -> None:
        salt, prefix = os.urandom(16), os.urandom(7)
        self.header = MAGIC + salt + bytes([LOG2_N, R, P]) + prefix
        self._aead = AESGCM(_key(passphrase, salt, LOG2_N, R, P))
        self._prefix = prefix
        self._index = 0
        self._pending = bytearray()
        self._started = False

    def _frame(self, chunk: bytes, last: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self.header)
        self._index += 1
        return struct.pack(">I", len(sealed)) + sealed

    def feed(self, data: bytes) -> bytes:
        """The sealed bytes ready after ``data`` (maybe none)."""
        out = bytearray()
        if not self._started:
            out += self.header
            self._started = True
        self._pending += data
        while len(self._pending) > FRAME_SIZE:
            out += self._frame(bytes(self._pending[:FRAME_SIZE]), last=False)
            del self._pending[:FRAME_SIZE]
        return bytes(out)

    def close(self) -> bytes:
        out = self.feed(b"")
        return out + self._frame(bytes(self._pending), last=True)


async def seal_stream(chunks: AsyncIterator[bytes], passphrase: str) -> AsyncIterator[bytes]:
    sealer = Sealer(passphrase)
    async for chunk in chunks:
        sealed = sealer.feed(chunk)
        if sealed:
            yield sealed
    yield sealer.close()


def _read_exactly(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise SealError("The sealed archive is truncated.")
    return data


def open_sealed(source: IO[bytes], passphrase: str) -> Iterator[bytes]:
    """The plaintext chunks of a sealed stream; :class:`SealError` when it cannot be
    opened, with this passphrase or at all."""
    header = _read_exactly(source, HEADER_SIZE)
    if not is_sealed(header):
        raise SealError("This is not a sealed archive.")
    offset = len(MAGIC)
    salt = header[offset : offset + 16]
    log2_n, r, p = header[offset + 16], header[offset + 17], header[offset + 18]
    prefix = header[offset + 19 :]
    aead = AESGCM(_key(passphrase, salt, log2_n, r, p))
    index = 0
    while True:
        length_bytes = source.read(4)
        if len(length_bytes) != 4:
            raise SealError("The sealed archive is truncated.")
        (length,) = struct.unpack(">I", length_bytes)
        if length > FRAME_SIZE + 16:
            raise SealError("The sealed archive is damaged.")
        sealed = _read_exactly(source, length)
        try:
            plain = aead.decrypt(_nonce(prefix, index, False), sealed, header)
            last = False
        except InvalidTag:
            try:
                plain = aead.decrypt(_nonce(prefix, index, True), sealed, header)
                last = True
            except InvalidTag:
                raise SealError(
                    "The archive cannot be decrypted: wrong passphrase, or it was changed."
                ) from None
        index += 1
        yield plain
        if last:
            if source.read(1):
                raise SealError("The sealed archive has data after its last frame.")
            return
