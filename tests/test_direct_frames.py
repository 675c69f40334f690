"""The fast path of broadcasts: frames encoded once, byte for byte what websockets sends."""

from __future__ import annotations

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from minibase.sockets.direct_frames import (
    OP_BINARY,
    OP_TEXT,
    DirectWriter,
    FrameCache,
    encode_frame,
)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
def test_a_frame_is_what_websockets_would_send(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    expected = Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
    assert encode_frame(payload, OP_BINARY) == expected
    text = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert encode_frame(payload, OP_TEXT) == text


def test_a_broadcast_payload_is_encoded_once() -> None:
    cache = FrameCache()
    frame = b"\x00\x02" + b"u" * 300
    first = cache.wire(frame)
    assert cache.wire(frame) is first  # the same payload object: the same wire bytes
    other = bytes(frame)  # equal but another object: encoded again, no stale reuse
    assert cache.wire(b"x") != first and cache.wire(other) == first
    text = '{"type":"result","id":"q","value":{"name":"é"},"version":2}'
    assert cache.wire(text) == encode_frame(text.encode(), OP_TEXT)


def test_a_first_sync_too_large_to_keep_is_not_kept() -> None:
    cache = FrameCache()
    big = b"\x00" * (2 * 1024 * 1024)
    assert cache.wire(big) == encode_frame(big, OP_BINARY)
    assert cache.wire(big) is not cache.wire(big)  # encoded each time, never held


class _Transport:
    """The part of an asyncio transport the direct path reads, and what it was given."""

    def __init__(self) -> None:
        self.buffered = 0
        self.closing = False
        self.written: list[bytes] = []

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Protocol:
    """Uvicorn's WebSocket protocol as the direct path sees it (the attributes it reads)."""

    def __init__(self) -> None:
        self.transport = _Transport()
        self.handshake_complete = False
        self.close_sent = False
        self.conn = ServerProtocol()  # CONNECTING until the handshake


def test_the_direct_path_writes_only_when_the_asgi_send_would_write_the_same() -> None:
    protocol = _Protocol()
    writer = DirectWriter(protocol)
    written = protocol.transport.written
    assert not writer.write(b"early")  # before the handshake: nothing
    protocol.handshake_complete = True
    protocol.conn.state = State.OPEN
    assert writer.write(b"\x00\x02") and written == [encode_frame(b"\x00\x02", OP_BINARY)]
    assert writer.write("text") and written[-1] == encode_frame(b"text", OP_TEXT)
    protocol.transport.buffered = 10  # something waits in the transport: queue behind it
    assert not writer.write(b"later")
    protocol.transport.buffered = 0
    protocol.transport.closing = True  # a close received, the connection lost, a shutdown
    assert not writer.write(b"later")
    protocol.transport.closing = False
    protocol.close_sent = True  # the app's close frame went out first
    assert not writer.write(b"later")
    assert len(written) == 2


def test_a_negotiated_extension_keeps_a_socket_off_the_direct_path() -> None:
    protocol = _Protocol()
    protocol.handshake_complete = True
    protocol.conn.state = State.OPEN
    protocol.conn.extensions = [PerMessageDeflate(False, False, 15, 15)]
    writer = DirectWriter(protocol)
    assert not writer.write(b"x") and not writer.write(b"y")
    assert protocol.transport.written == []
