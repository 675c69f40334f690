"""The y-websocket wire format (y-protocols sync, awareness and auth over lib0 encoding).

One WebSocket binary frame carries one message: a lib0 ``varuint`` message type followed
by its body.

====  =====================================================================================
type  body
====  =====================================================================================
0     sync: ``varuint`` substep (0 step 1: ``varuint8array`` state vector; 1 step 2 and
      2 update: ``varuint8array`` Yjs update)
1     awareness: ``varuint8array`` awareness update
2     auth: ``varuint`` 0 (permission denied), ``varstring`` reason
3     query awareness (no body)
100   Minibase notification (server → client): ``varstring`` JSON object
====  =====================================================================================

A frame that does not decode raises :class:`ProtocolError`; the endpoint closes that
socket only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

MSG_SYNC: Final = 0
MSG_AWARENESS: Final = 1
MSG_AUTH: Final = 2
MSG_QUERY_AWARENESS: Final = 3
MSG_NOTIFICATION: Final = 100
"""Custom message type for server → client notifications (JSON, see ``docs/collab.md``)."""

SYNC_STEP1: Final = 0
SYNC_STEP2: Final = 1
SYNC_UPDATE: Final = 2

AUTH_PERMISSION_DENIED: Final = 0

_MAX_VARUINT_BYTES = 10  # 64 bits; lib0 itself stops at 53 bits (Number.MAX_SAFE_INTEGER)


class ProtocolError(ValueError):
    """A frame that is not a well-formed y-websocket message."""


# --- lib0 encoding ------------------------------------------------------------------------


def write_varuint(out: bytearray, num: int) -> None:
    """Append ``num`` (≥ 0) as a lib0 varuint: 7 bits per byte, low bits first."""
    if num < 0:
        raise ValueError("varuint must not be negative")
    while num > 0x7F:
        out.append(0x80 | (num & 0x7F))
        num >>= 7
    out.append(num)


def write_varuint8array(out: bytearray, data: bytes) -> None:
    write_varuint(out, len(data))
    out += data


def write_varstring(out: bytearray, text: str) -> None:
    write_varuint8array(out, text.encode("utf-8"))


def encode_varuint(num: int) -> bytes:
    out = bytearray()
    write_varuint(out, num)
    return bytes(out)


class Decoder:
    """Reads lib0 values from ``data`` front to back; every failure is a ProtocolError."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read_varuint(self) -> int:
        num = 0
        shift = 0
        for _ in range(_MAX_VARUINT_BYTES):
            if self.pos >= len(self.data):
                raise ProtocolError("truncated varuint")
            byte = self.data[self.pos]
            self.pos += 1
            num |= (byte & 0x7F) << shift
            if byte < 0x80:
                return num
            shift += 7
        raise ProtocolError("varuint too long")

    def read_varuint8array(self) -> bytes:
        length = self.read_varuint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolError("truncated byte array")
        chunk = self.data[self.pos : end]
        self.pos = end
        return bytes(chunk)

    def read_varstring(self) -> str:
        raw = self.read_varuint8array()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("string is not UTF-8") from exc


# --- messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    update: bytes


@dataclass(frozen=True, slots=True)
class PermissionDenied:
    reason: str


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


@dataclass(frozen=True, slots=True)
class Notification:
    payload: dict[str, object]


Message = (
    SyncStep1
    | SyncStep2
    | SyncUpdate
    | AwarenessUpdate
    | PermissionDenied
    | QueryAwareness
    | Notification
)


def decode_message(frame: bytes) -> Message:
    """Decode one frame. Trailing bytes after the message are ignored (as y-protocols does)."""
    # Most of what editors send is an update under 128 bytes (a drag, a keystroke): three
    # header bytes in front of the payload, read here without a Decoder.
    if len(frame) >= 3 and frame[0] == MSG_SYNC and frame[1] == SYNC_UPDATE and frame[2] < 0x80:
        end = 3 + frame[2]
        if end <= len(frame):
            return SyncUpdate(frame[3:end])
    return _decode(frame)


def _decode(frame: bytes) -> Message:
    dec = Decoder(frame)
    kind = dec.read_varuint()
    if kind == MSG_SYNC:
        step = dec.read_varuint()
        payload = dec.read_varuint8array()
        if step == SYNC_STEP1:
            return SyncStep1(payload)
        if step == SYNC_STEP2:
            return SyncStep2(payload)
        if step == SYNC_UPDATE:
            return SyncUpdate(payload)
        raise ProtocolError(f"unknown sync step {step}")
    if kind == MSG_AWARENESS:
        return AwarenessUpdate(dec.read_varuint8array())
    if kind == MSG_AUTH:
        sub = dec.read_varuint()
        if sub != AUTH_PERMISSION_DENIED:
            raise ProtocolError(f"unknown auth message {sub}")
        return PermissionDenied(dec.read_varstring())
    if kind == MSG_QUERY_AWARENESS:
        return QueryAwareness()
    if kind == MSG_NOTIFICATION:
        try:
            payload = orjson.loads(dec.read_varstring())
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("notification is not JSON") from exc
        if not isinstance(payload, dict):
            raise ProtocolError("notification is not a JSON object")
        return Notification(payload)
    raise ProtocolError(f"unknown message type {kind}")


def _sync(step: int, payload: bytes) -> bytes:
    out = bytearray((MSG_SYNC, step))
    write_varuint8array(out, payload)
    return bytes(out)


def sync_step1(state_vector: bytes) -> bytes:
    return _sync(SYNC_STEP1, state_vector)


def sync_step2(update: bytes) -> bytes:
    return _sync(SYNC_STEP2, update)


def sync_update(update: bytes) -> bytes:
    return _sync(SYNC_UPDATE, update)


def awareness_message(update: bytes) -> bytes:
    out = bytearray((MSG_AWARENESS,))
    write_varuint8array(out, update)
    return bytes(out)


def permission_denied(reason: str) -> bytes:
    out = bytearray((MSG_AUTH, AUTH_PERMISSION_DENIED))
    write_varstring(out, reason)
    return bytes(out)


def query_awareness() -> bytes:
    return bytes((MSG_QUERY_AWARENESS,))


def notification(payload: dict[str, object]) -> bytes:
    out = bytearray()
    write_varuint(out, MSG_NOTIFICATION)
    write_varstring(out, orjson.dumps(payload).decode("utf-8"))
    return bytes(out)


def encode_message(message: Message) -> bytes:
    """Encode ``message`` (the inverse of :func:`decode_message`)."""
    match message:
        case SyncStep1(state_vector):
            return sync_step1(state_vector)
        case SyncStep2(update):
            return sync_step2(update)
        case SyncUpdate(update):
            return sync_update(update)
        case AwarenessUpdate(update):
            return awareness_message(update)
        case PermissionDenied(reason):
            return permission_denied(reason)
        case QueryAwareness():
            return query_awareness()
        case Notification(payload):
            return notification(payload)
    raise TypeError(f"not a message: {message!r}")


# --- awareness updates --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's awareness state: ``state`` is its JSON text (``"null"`` once gone)."""

    client_id: int
    clock: int
    state: str

    @property
    def removed(self) -> bool:
        return self.state == "null"


def decode_awareness_update(update: bytes) -> list[AwarenessEntry]:
    dec = Decoder(update)
    count = dec.read_varuint()
    if count > len(update):
        raise ProtocolError("awareness entry count exceeds the frame")
    entries = [
        AwarenessEntry(dec.read_varuint(), dec.read_varuint(), dec.read_varstring())
        for _ in range(count)
    ]
    for entry in entries:
        # Relayed verbatim to every client, whose JSON.parse must not throw on it.
        try:
            orjson.loads(entry.state)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError("awareness state is not JSON") from exc
    return entries


def encode_awareness_update(entries: list[AwarenessEntry]) -> bytes:
    out = bytearray()
    write_varuint(out, len(entries))
    for entry in entries:
        write_varuint(out, entry.client_id)
        write_varuint(out, entry.clock)
        write_varstring(out, entry.state)
    return bytes(out)
