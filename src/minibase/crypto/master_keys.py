"""The instance's master keys (key encryption keys) and its record of shredded orgs.

Where the master keys come from, current first:

- ``MINIBASE_MASTER_KEY`` (base64, 32 bytes) when set, then every key of
  ``MINIBASE_MASTER_KEYS_PREVIOUS`` (comma-separated): keys retired by a rotation that
  data keys may still be wrapped under until ``minibase keys rotate-master`` finishes;
- otherwise the key file ``master.key`` in the data dir, one base64 key per line, the
  first current and the others previous, created with mode 0600 at first use.

A key is named by its id: the first 16 hex digits of a SHA-256 over a fixed label and the
key, stored beside each wrapped data key so that the right key is picked without trying
each one (the id reveals nothing usable about the key). Keys are never logged: their
``repr`` hides them.

The shred list (``shredded-orgs`` beside the key file, one org id per line) records orgs
whose data key was destroyed. It lives outside the database on purpose: a backup restored
after a deletion would bring the org's wrapped key back, so restore and unwrap consult it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from minibase.config import Settings
from minibase.errors import StartupError

KEY_FILE = "master.key"
SHRED_FILE = "shredded-orgs"
KEY_BYTES = 32


def key_id(key: bytes) -> str:
    """The public name of a master key (16 hex digits)."""
    return hashlib.sha256(b"minibase master key id\0" + key).hexdigest()[:16]


@dataclass(frozen=True)
class MasterKeys:
    """The current master key and the previous ones still accepted for unwrapping."""

    keys: tuple[bytes, ...] = field(repr=False)
    source: str
    """Where they came from (the env var or the key file), for messages."""

    @property
    def current(self) -> bytes:
        return self.keys[0]

    @property
    def current_id(self) -> str:
        return key_id(self.keys[0])

    def by_id(self, kid: str) -> bytes | None:
        """The key named ``kid``, or ``None`` when this instance does not hold it."""
        for key in self.keys:
            if key_id(key) == kid:
                return key
        return None

    def ids(self) -> list[str]:
        return [key_id(k) for k in self.keys]


def parse_key(text: str, where: str) -> bytes:
    """A base64 32-byte key, or :class:`StartupError` naming ``where`` (never the value)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except binascii.Error:
        raise StartupError(f"{where} is not base64") from None
    if len(key) != KEY_BYTES:
        raise StartupError(f"{where} must be {KEY_BYTES} bytes (base64)")
    return key


def new_key_text() -> str:
    """A fresh random key as one base64 line."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _write_new(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def key_file_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / KEY_FILE


def read_key_file(path: Path, *, create: bool = True) -> tuple[bytes, ...]:
    """The keys of ``path`` (first current), made with one fresh key when missing."""
    if not path.exists():
        if not create:
            raise StartupError(f"the key file {path} does not exist")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Another process may make it meanwhile: then read theirs.
        with contextlib.suppress(FileExistsError):
            _write_new(path, new_key_text() + "\n")
    lines = [line for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    if not lines:
        raise StartupError(f"the key file {path} is empty")
    return tuple(parse_key(line, f"line {n + 1} of {path}") for n, line in enumerate(lines))


def add_key_to_file(path: Path) -> str:
    """Put a fresh key first in the key file (the others stay, as previous keys); its id.

    Written to a temporary file (0600) and renamed over the old one, so a crash leaves
    either file whole."""
    old = path.read_text(encoding="ascii") if path.exists() else ""
    fresh = new_key_text()
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write_new(tmp, fresh + "\n" + old)
    os.replace(tmp, path)
    return key_id(parse_key(fresh, "the new key"))


def load_master_keys(settings: Settings) -> MasterKeys:
    """This instance's master keys (reads, or makes, the key file when no env key is set)."""
    env = settings.master_key.get_secret_value()
    if env:
        keys = [parse_key(env, "MINIBASE_MASTER_KEY")]
        previous = settings.master_keys_previous.get_secret_value()
        for n, part in enumerate(p for p in previous.split(",") if p.strip()):
            keys.append(parse_key(part, f"key {n + 1} of MINIBASE_MASTER_KEYS_PREVIOUS"))
        return MasterKeys(tuple(keys), "MINIBASE_MASTER_KEY")
    path = key_file_path(settings)
    return MasterKeys(read_key_file(path), str(path))


def shred_list_path(settings: Settings) -> Path:
    return (
        Path(settings.shred_list) if settings.shred_list else Path(settings.data_dir) / SHRED_FILE
    )


def read_shred_list(path: Path) -> frozenset[str]:
    """The org ids whose data keys were destroyed (empty when the file does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return frozenset()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def record_shredded(path: Path, org_id: str) -> None:
    """Append ``org_id`` to the shred list (made 0600), flushed to disk before returning."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.write(org_id + "\n")
        out.flush()
        os.fsync(out.fileno())
