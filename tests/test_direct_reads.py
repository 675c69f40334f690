"""Binary messages handed over where Uvicorn parses them, on Uvicorn's own protocol class."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from minibase.sockets.direct_frames import DirectFramesMiddleware
from minibase.sockets.direct_reads import DirectReader, reader_of

HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def client_frame(opcode: Opcode, data: bytes, *, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=True, extensions=[])


class _Transport:
    """An asyncio transport that records what it is given."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closing = False
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 1), "peername": ("127.0.0.1", 2)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class _App:
    """Accepts, takes its first message the ASGI way, then reads directly."""

    def __init__(self) -> None:
        self.direct: list[bytes] = []
        self.asgi: list[dict[str, Any]] = []
        self.reader: DirectReader | None = None
        self.accepted = asyncio.Event()
        self.started = asyncio.Event()
        self.done = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        self.accepted.set()
        self.reader = reader_of(scope)
        assert self.reader is not None
        while True:
            message = await receive()
            self.asgi.append(message)
            if message["type"] == "websocket.disconnect" or message.get("bytes") == b"":
                break
            if not self.reader.running and self.reader.start(self.direct.append):
                self.started.set()
        self.reader.stop()
        self.done.set()


async def _connect(app: _App) -> tuple[WebSocketsSansIOProtocol, _Transport]:
    config = Config(DirectFramesMiddleware(app), ws="websockets-sansio", log_config=None)
    config.load()
    protocol = WebSocketsSansIOProtocol(config, ServerState(), {})
    transport = _Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(HANDSHAKE)
    await asyncio.wait_for(app.accepted.wait(), 5)
    assert protocol.handshake_complete
    return protocol, transport


async def test_binary_messages_go_to_the_handler_in_order_and_the_rest_the_asgi_way() -> None:
    app = _App()
    protocol, transport = await _connect(app)
    protocol.data_received(client_frame(Opcode.BINARY, b"first"))
    await asyncio.wait_for(app.started.wait(), 5)
    assert app.asgi == [{"type": "websocket.receive", "bytes": b"first"}]
    assert not transport.paused  # the app took it: Uvicorn reads the socket again

    # Several frames in one read, a fragmented message, a ping between: the handler
    # gets each binary message whole and in order, at once, and reading never pauses.
    protocol.data_received(
        client_frame(Opcode.BINARY, b"a")
        + client_frame(Opcode.BINARY, b"b1", fin=False)
        + client_frame(Opcode.PING, b"p")
        + client_frame(Opcode.CONT, b"b2")
        + client_frame(Opcode.BINARY, b"c")
    )
    assert app.direct == [b"a", b"b1b2", b"c"]
    assert not transport.paused
    assert Frame(Opcode.PONG, b"p").serialize(mask=False, extensions=[]) in transport.written

    protocol.data_received(client_frame(Opcode.TEXT, "é".encode()))  # text: the ASGI way
    await asyncio.sleep(0)
    assert app.asgi[-1] == {"type": "websocket.receive", "text": "é"}
    assert app.direct == [b"a", b"b1b2", b"c"]

    protocol.data_received(client_frame(Opcode.CLOSE, b"\x03\xe8"))
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.asgi[-1]["type"] == "websocket.disconnect"
    assert "send_receive_event_to_app" not in vars(protocol)  # stopped: Uvicorn's own again


async def test_the_reader_starts_only_when_nothing_waits_for_the_app() -> None:
    app = _App()
    protocol, _ = await _connect(app)
    reader = DirectReader(protocol)
    protocol.queue.put_nowait({"type": "websocket.receive", "bytes": b"queued"})
    assert not reader.start(app.direct.append)  # it would overtake the queued message
    protocol.queue.get_nowait()
    protocol.frames = [b"half"]
    assert not reader.start(app.direct.append)  # a fragmented message is half parsed
    protocol.frames = []
    protocol.close_sent = True
    assert not reader.start(app.direct.append)
    protocol.close_sent = False
    assert reader.start(app.direct.append) and not reader.start(app.direct.append)
    reader.stop(wake=True)  # the app's pending receive ends with an empty message
    await asyncio.wait_for(app.done.wait(), 5)
    assert app.asgi[-1] == {"type": "websocket.receive", "bytes": b""}


async def test_a_message_after_the_close_frame_was_sent_is_dropped() -> None:
    app = _App()
    protocol, _ = await _connect(app)
    protocol.data_received(client_frame(Opcode.BINARY, b"first"))
    await asyncio.wait_for(app.started.wait(), 5)
    protocol.close_sent = True  # as after the app's websocket.close
    protocol.data_received(client_frame(Opcode.BINARY, b"late"))
    await asyncio.sleep(0)
    assert app.direct == [] and app.asgi == [{"type": "websocket.receive", "bytes": b"first"}]
    protocol.close_sent = False
    protocol.data_received(client_frame(Opcode.BINARY, b"more"))
    assert app.direct == [b"more"]
    protocol.connection_lost(None)
    await asyncio.wait_for(app.done.wait(), 5)
