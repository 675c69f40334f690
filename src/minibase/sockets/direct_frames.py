"""Server-to-client WebSocket frames encoded once and written straight to the socket.

Why: a live-query change or a collab update goes to hundreds of sockets. Through ASGI,
each copy costs a Starlette ``send``, every middleware's send wrapper, websockets'
sans-I/O framing and the transport write (about 40 µs a socket on the 2-core machine of
docs/benchmarks.md), so the last of 1,000 subscribers hears of a change tens of
milliseconds after the first. The payload is the same for all of them, and a server
frame is only a short header in front of it (server frames are not masked).

So, for sockets served by Uvicorn's websockets sans-I/O protocol (what ``minibase serve``
runs), :class:`DirectWriter` writes the encoded frame to the connection's transport
itself, and only when that is exactly what the ASGI send would do at that moment: the
handshake is done, the connection is open (no close frame sent or received), nothing is
negotiated that would change the framing (no extension), and nothing waits in the
transport's buffer (so it takes data without waiting: Uvicorn's ``writable`` is set).
Otherwise :meth:`DirectWriter.write` returns False and the caller queues the frame for
its writer task and the ASGI send, as before; so a slow reader is bounded by the same
queues.

The writer is found from the raw ASGI ``send`` callable, which
:class:`DirectFramesMiddleware` (outermost) records in the scope. Any other server, or
a test client, gets no writer and the ASGI path.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from websockets.protocol import State

from minibase.sockets import direct_reads

SCOPE_KEY = "minibase.direct_frames"
"""Where :class:`DirectFramesMiddleware` leaves the socket's writer in the ASGI scope."""

OP_TEXT = 0x1
OP_BINARY = 0x2

_FIN = 0x80

MAX_CACHED = 1024 * 1024
"""A larger frame (a big document's first sync) goes to one socket: not kept."""


def encode_frame(payload: bytes, opcode: int) -> bytes:
    """One unfragmented, unmasked frame (RFC 6455 section 5.2) carrying ``payload``."""
    size = len(payload)
    first = _FIN | opcode
    if size < 126:
        header = struct.pack("!BB", first, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


class FrameCache:
    """The wire bytes of the last payload encoded, reused while it is the same object.

    A broadcast hands one ``bytes`` (collab) or ``str`` (live queries) to every socket in
    turn; this encodes it once for all of them. Keyed by identity: the cache holds the
    payload, so its id cannot be reused by another object meanwhile.
    """

    __slots__ = ("_payload", "_wire")

    def __init__(self) -> None:
        self._payload: bytes | str | None = None
        self._wire = b""

    def wire(self, payload: bytes | str) -> bytes:
        if payload is self._payload:
            return self._wire
        if isinstance(payload, str):
            wire = encode_frame(payload.encode(), OP_TEXT)
        else:
            wire = encode_frame(payload, OP_BINARY)
        if len(wire) <= MAX_CACHED:
            self._payload, self._wire = payload, wire
        return wire


FRAMES = FrameCache()
"""One per process: every broadcast runs on the one event loop, one payload at a time."""


class DirectWriter:
    """Writes encoded frames to one Uvicorn WebSocket connection when that is safe."""

    __slots__ = ("_open", "_protocol", "_transport")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._open = False
        """The handshake is done and negotiated no extension: settled for good."""

    def write(self, payload: bytes | str) -> bool:
        """Write ``payload`` as one frame (text for ``str``) now; False: use the ASGI send.

        True means the whole frame is in the transport, in order after everything sent
        before; False means nothing was written.

        Per socket of a broadcast this runs hundreds of times, right after the previous
        socket's system call has evicted the CPU's caches, so it reads as few objects as
        it can. What cannot change once the connection is open (the handshake, the
        extensions) is checked until it holds, then not again. Then, each time: no close
        frame sent (``close_sent``); the transport is not closing, which it is once a
        close frame was received (Uvicorn answers it and closes the transport), the
        connection was lost, or the server shuts down; and nothing waits in the
        transport's buffer, which also means it is below its high-water mark (Uvicorn's
        ``writable`` is set).
        """
        p = self._protocol
        if not self._open:
            if (
                not p.handshake_complete
                or p.conn.state is not State.OPEN
                or p.conn.extensions  # negotiated at the handshake (permessage-deflate)
            ):
                return False
            self._open = True
        transport = self._transport
        if p.close_sent or transport.get_write_buffer_size() or transport.is_closing():
            return False
        transport.write(FRAMES.wire(payload))
        return True


def _sansio_protocol(send: Any) -> Any | None:
    """The Uvicorn protocol object behind ``send``, when it is one this module knows."""
    protocol = getattr(send, "__self__", None)
    if protocol is None or type(protocol).__name__ != "WebSocketsSansIOProtocol":
        return None
    needed = (
        "conn",
        "transport",
        "handshake_complete",
        "close_sent",
        # What the direct reader (minibase.sockets.direct_reads) uses.
        "queue",
        "frames",
        "curr_msg_data_type",
        "send_receive_event_to_app",
    )
    if not all(hasattr(protocol, name) for name in needed):
        return None
    return protocol


def writer_of(scope: Mapping[str, Any]) -> DirectWriter | None:
    """The direct writer of a WebSocket's scope, or None (the ASGI send is the way)."""
    writer = scope.get(SCOPE_KEY)
    return writer if isinstance(writer, DirectWriter) else None


class DirectFramesMiddleware:
    """Records a :class:`DirectWriter` and a
    :class:`~minibase.sockets.direct_reads.DirectReader` in each WebSocket scope it can
    serve (outermost)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            protocol = _sansio_protocol(send)
            if protocol is not None:
                scope[SCOPE_KEY] = DirectWriter(protocol)
                scope[direct_reads.SCOPE_KEY] = direct_reads.DirectReader(protocol)
        await self.app(scope, receive, send)
