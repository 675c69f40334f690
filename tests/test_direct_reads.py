"""Binary messages handed over where Uvicorn parses them, on Uvicorn's own protocol class."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
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

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol


class _App:
    """Accepts, takes its first message the ASGI way, then reads directly."""

    def __init__(self) -> None:
        self.direct: list[bytes] = []
        self.asgi: list[dict[str, Any]] = []
        self.reader: DirectReader | None = None
        self.expect_wake = False
        self.direct_allowed = True
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
            woken = self.expect_wake and message.get("bytes") == b""
            if message["type"] == "websocket.disconnect" or woken:
                break
            if (
                self.direct_allowed
                and not self.reader.running
                and self.reader.start(self.direct.append)
            ):
                self.started.set()
        self.reader.stop()
        self.done.set()


async def _connect(
    app: _App, *, max_size: int = 16 * 1024 * 1024
) -> tuple[WebSocketsSansIOProtocol, _Transport]:
    config = Config(
        DirectFramesMiddleware(app), ws="websockets-sansio", log_config=None, ws_max_size=max_size
    )
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
    app.expect_wake = True
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


# --- the reader's own parsing, against websockets' -----------------------------------

LIMIT = 70_000
"""The server's message size limit in these streams (Uvicorn's ``ws_max_size``)."""

_frames = st.one_of(
    st.binary(max_size=300).map(lambda b: ("binary", b)),
    st.sampled_from([125, 126, 65_535, 65_536, LIMIT]).map(lambda n: ("binary", b"m" * n)),
    st.binary(max_size=20).map(lambda b: ("ping", b)),
    st.binary(max_size=20).map(lambda b: ("pong", b)),
    st.text(max_size=20).map(lambda t: ("text", t.encode())),
    st.lists(st.binary(min_size=1, max_size=50), min_size=2, max_size=4).map(
        lambda parts: ("fragments", parts)
    ),
)
_endings = st.sampled_from(["none", "close", "too_big", "unmasked"])


def _wire(kind: str, body: Any) -> bytes:
    if kind == "fragments":
        first, *middle, last = body
        return b"".join(
            [
                client_frame(Opcode.BINARY, first, fin=False),
                *(client_frame(Opcode.CONT, part, fin=False) for part in middle),
                client_frame(Opcode.PING, b"between"),  # control frames may interleave
                client_frame(Opcode.CONT, last),
            ]
        )
    opcode = {"binary": Opcode.BINARY, "ping": Opcode.PING, "pong": Opcode.PONG}.get(
        kind, Opcode.TEXT
    )
    return client_frame(opcode, body)


def _ending(kind: str) -> bytes:
    if kind == "close":
        return client_frame(Opcode.CLOSE, b"\x03\xe8")
    if kind == "too_big":
        return client_frame(Opcode.BINARY, b"x" * (LIMIT + 1))
    if kind == "unmasked":
        return Frame(Opcode.BINARY, b"plain").serialize(mask=False, extensions=[])
    return b""


async def _through(stream: bytes, cuts: list[int], *, direct: bool) -> tuple[Any, ...]:
    """What the app gets from ``stream`` (read in pieces at ``cuts``), and what the
    server wrote back, with or without the direct reader."""
    app = _App()
    protocol, transport = await _connect(app, max_size=LIMIT)
    protocol.data_received(client_frame(Opcode.BINARY, b"first"))
    await asyncio.wait_for(app.started.wait(), 5)
    if not direct:
        assert app.reader is not None
        app.direct_allowed = False
        app.reader.stop()
    handshake = len(transport.written)
    edges = [0, *sorted(c % (len(stream) + 1) for c in cuts), len(stream)]
    for a, b in itertools.pairwise(edges):
        if b > a:
            protocol.data_received(stream[a:b])
        for _ in range(3):
            await asyncio.sleep(0)  # the app takes what the ASGI path queued
    if not protocol.transport.is_closing():
        protocol.connection_lost(None)
    await asyncio.wait_for(app.done.wait(), 5)
    received = [
        m.get("bytes", m.get("text")) for m in app.asgi[1:] if m["type"] != "websocket.disconnect"
    ]
    binary = app.direct + [m for m in received if isinstance(m, bytes)]
    text = [m for m in received if isinstance(m, str)]
    return binary, text, bytes(transport.written[handshake:]), protocol.conn.close_sent


@settings(max_examples=150, deadline=None)
@given(
    frames=st.lists(_frames, max_size=8),
    ending=_endings,
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=6),
)
def test_the_reader_parses_what_websockets_would_however_the_stream_is_cut(
    frames: list[tuple[str, Any]], ending: str, cuts: list[int]
) -> None:
    """Random streams of frames, read in random pieces: the app gets the same binary and
    text messages in the same order, and the server writes the same bytes back (pongs,
    the close reply, 1009 and 1002 closes), with the reader's parsing as without it."""
    stream = b"".join(_wire(kind, body) for kind, body in frames) + _ending(ending)
    direct = asyncio.run(_through(stream, cuts, direct=True))
    reference = asyncio.run(_through(stream, cuts, direct=False))
    assert direct[1:] == reference[1:]  # the same text, written bytes and close
    expected = [
        body if kind == "binary" else b"".join(body)
        for kind, body in frames
        if kind in ("binary", "fragments")
    ]
    if ending in ("none", "close"):
        assert direct[0] == reference[0] == expected
    else:
        # A read that ends in a frame websockets refuses: Uvicorn drops every message
        # parsed in that read; those this reader parsed before it were delivered.
        assert expected[: len(direct[0])] == direct[0]
        assert direct[0][: len(reference[0])] == reference[0]


async def test_a_frame_split_across_reads_is_left_to_websockets() -> None:
    """The reader keeps at most a header: a large frame arriving in pieces is buffered by
    websockets (no copy of everything so far at each read), and the reader takes over
    again once websockets has nothing partial."""
    app = _App()
    protocol, _ = await _connect(app)
    protocol.data_received(client_frame(Opcode.BINARY, b"first"))
    await asyncio.wait_for(app.started.wait(), 5)
    reader = app.reader
    assert reader is not None
    big = client_frame(Opcode.BINARY, b"b" * 70_000)
    pieces = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    for n, piece in enumerate(pieces[:-1], start=1):
        protocol.data_received(piece)
        assert not reader._buffer  # what the reader holds itself
        # websockets read the 14-byte header and keeps the payload so far.
        assert len(protocol.conn.reader.buffer) == n * 1000 - 14
    protocol.data_received(pieces[-1])
    assert app.direct == [b"b" * 70_000] and not protocol.conn.reader.buffer
    small = client_frame(Opcode.BINARY, b"small")
    protocol.data_received(small[:1])  # a header split: the reader keeps that byte
    assert reader._buffer == small[:1] and not protocol.conn.reader.buffer
    protocol.data_received(small[1:])
    assert app.direct[-1] == b"small" and not reader._buffer
