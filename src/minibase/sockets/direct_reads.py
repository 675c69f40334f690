"""Client-to-server WebSocket messages handed to the app as soon as they are parsed.

Why: through ASGI, each message a socket receives goes from Uvicorn's protocol into a
queue; Uvicorn pauses reading the socket (until the app has taken the message), the
app's task wakes on a later turn of the event loop, takes it through Starlette's
``receive`` and every middleware's receive wrapper, and Uvicorn resumes reading. With 50
editors sending small Yjs updates, that round costs a collab server more CPU than
decoding and integrating the update itself, and adds a turn of the loop to every edit's
latency. Parsing the frame itself in websockets' general parser (a generator per read,
each field read through it) then costs about 3.8 µs a message, ten times reading an
unfragmented binary frame's header and unmasking it.

So, for sockets served by Uvicorn's websockets sans-I/O protocol (what ``minibase
serve`` runs; the same one :mod:`minibase.sockets.direct_frames` writes to), a
:class:`DirectReader` hands each complete binary message to a handler right where it is
parsed (inside the protocol's ``data_received``), in order, in the context of the
connection's app task:

- A frame that is one whole binary message (FIN set, no RSV bit, opcode 2, masked, not
  over the size limit, no fragmented message in progress, connection open, nothing
  negotiated: :func:`_plain_binary`) and is all in the bytes at hand is read here:
  header, mask, payload, exactly as websockets would read it (a test compares the two on
  random streams). Of a frame split across reads the reader keeps at most its header;
  the rest of a split frame goes to websockets, whose buffer grows without copying what
  it holds at each read.
- Every other frame (ping, pong, close, text, a fragment, one over the limit, anything
  malformed) goes to Uvicorn's own ``data_received``, from its first byte: websockets
  parses it and answers as before (a pong, the close handshake, 1009 for a frame over
  the limit, 1002 for a protocol error). Once websockets holds part of a frame, it gets
  everything until its buffer is empty again, so no frame is ever split between the two
  parsers. A binary message assembled from fragments reaches the handler too.
- Text messages, the disconnect and everything after the server sent its close frame
  take the ASGI path (a message after the close frame is dropped, as Uvicorn drops it).

The handler runs on the event loop inside a protocol callback: it must not block, and an
exception it raises would end the connection in the transport, so it handles its own
(see ``collab/endpoint.py``). While the reader runs, the app's ``receive`` still waits
for the rest: :meth:`DirectReader.stop` with ``wake=True`` ends that wait with an empty
binary message, for an app that closes the socket from the handler.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a build of websockets without its C extension
    from websockets.utils import apply_mask

SCOPE_KEY = "minibase.direct_reads"
"""Where :class:`~minibase.sockets.direct_frames.DirectFramesMiddleware` leaves the
socket's reader in the ASGI scope."""

Handler = Callable[[bytes], None]
"""Takes one complete binary message."""

_WAKE: dict[str, Any] = {"type": "websocket.receive", "bytes": b""}

_FIN_BINARY = 0x82
"""The first byte of a frame that is a whole binary message: FIN, no RSV bit, opcode 2."""

_MASKED = 0x80

_HEADER_SPLIT = (-1, -1)
"""A frame whose header (at most 14 bytes) is not all here: the reader keeps those bytes."""

_KNOWN = frozenset(
    {"state", "extensions", "current_size", "max_message_size", "max_fragment_size", "reader"}
)
"""What this reads of websockets' connection (its parser's state)."""


class DirectReader:
    """Hands one Uvicorn WebSocket connection's binary messages to a handler directly."""

    __slots__ = ("_buffer", "_context", "_handler", "_protocol", "_running")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._running = False
        self._handler: Handler | None = None
        self._context: contextvars.Context | None = None
        self._buffer = b""
        """The start of a frame's header (under 14 bytes), waiting for the rest of it."""

    @property
    def running(self) -> bool:
        return self._running

    def start(self, handler: Handler) -> bool:
        """Hand every binary message from now on to ``handler``; False: not possible now.

        Only when nothing waits for the app in the ASGI queue (or half-parsed in the
        protocol), so no message can overtake one received before; call it from the task
        that reads the socket, right after a ``receive``. The handler runs in a copy of
        the caller's context (its request id is on every log line, as before).
        """
        p = self._protocol
        if not _KNOWN.issubset(dir(p.conn)) or not hasattr(p.conn.reader, "buffer"):
            return False  # another websockets than this was written for: ASGI it is
        if (
            self._running
            or p.close_sent
            or p.frames
            or not p.queue.empty()
            or p.conn.state is not State.OPEN
            or p.conn.extensions
        ):
            return False
        self._handler = handler
        self._context = contextvars.copy_context()
        self._running = True
        # Attributes of the instance come before the class's methods: the protocol's
        # handle_bytes and handle_cont call this ``send_receive_event_to_app`` from now
        # on, and the transport this ``data_received``, once it is told the protocol
        # again (uvloop keeps the method it was first given).
        p.send_receive_event_to_app = self._assembled
        p.data_received = self._received
        p.transport.set_protocol(p)
        return True

    def stop(self, *, wake: bool = False) -> None:
        """Back to the ASGI path; ``wake``: end the app's pending ``receive`` (with an
        empty binary message) so it notices what the handler decided."""
        p = self._protocol
        if self._running:
            self._running = False
            del p.send_receive_event_to_app
            del p.data_received
            p.transport.set_protocol(p)
            if self._buffer:
                rest, self._buffer = self._buffer, b""
                p.data_received(rest)
        if wake:
            p.queue.put_nowait(dict(_WAKE))

    def _deliver(self, message: bytes) -> None:
        assert self._context is not None and self._handler is not None
        self._context.run(self._handler, message)

    def _assembled(self) -> None:
        """Uvicorn's ``send_receive_event_to_app`` while running: a message websockets
        parsed (``p.frames`` holds its fragments) is complete."""
        p = self._protocol
        if p.curr_msg_data_type != "bytes" or p.close_sent:
            type(p).send_receive_event_to_app(p)
            return
        frames = p.frames
        p.frames = []
        self._deliver(frames[0] if len(frames) == 1 else b"".join(frames))

    def _received(self, data: bytes) -> None:
        """The protocol's ``data_received`` while running (see the module docstring)."""
        p = self._protocol
        ordinary = type(p).data_received
        if p.conn.reader.buffer:
            ordinary(p, data)  # websockets holds part of a frame: it reads on
            return
        buffer = self._buffer + data if self._buffer else data
        self._buffer = b""
        pos, end = 0, len(buffer)
        while pos < end:
            frame = _plain_binary(p, buffer, pos, end)
            if frame is None:
                # Not one this reader reads, or not all here yet: websockets reads it (and
                # keeps what is partial, in a buffer that grows without copying).
                ordinary(p, buffer[pos:])
                return
            if frame is _HEADER_SPLIT:
                self._buffer = buffer[pos:]  # under 14 bytes: too few to tell yet
                return
            start, stop = frame
            mask = buffer[start - 4 : start]
            pos = stop
            self._deliver(apply_mask(buffer[start:stop], mask))
            if not self._running:  # the handler stopped the reader: the rest goes on
                if pos < end:
                    p.data_received(buffer[pos:])
                return


def _plain_binary(p: Any, buffer: bytes, pos: int, end: int) -> tuple[int, int] | None:
    """Where the payload of the frame at ``pos`` is, if it is a whole binary message
    websockets would pass as it is and all of it is here; :data:`_HEADER_SPLIT` when its
    header is not all here; None: a frame for websockets to parse."""
    if end - pos < 2:
        return _HEADER_SPLIT
    head2 = buffer[pos + 1]
    if buffer[pos] != _FIN_BINARY or not head2 & _MASKED:
        return None
    conn = p.conn
    if p.close_sent or conn.state is not State.OPEN or conn.current_size is not None:
        return None
    length = head2 & 0x7F
    start = pos + 2
    if length == 126:
        if end - start < 2:
            return _HEADER_SPLIT
        length = int.from_bytes(buffer[start : start + 2], "big")
        start += 2
    elif length == 127:
        if end - start < 8:
            return _HEADER_SPLIT
        length = int.from_bytes(buffer[start : start + 8], "big")
        start += 8
    limit, fragment_limit = conn.max_message_size, conn.max_fragment_size
    if (limit is not None and length > limit) or (
        fragment_limit is not None and length > fragment_limit
    ):
        return None  # websockets refuses it (1009) before reading it
    start += 4  # the mask
    if end - start < length:
        return None  # websockets keeps the part here and reads the rest as it comes
    return start, start + length


def reader_of(scope: Mapping[str, Any]) -> DirectReader | None:
    """The direct reader of a WebSocket's scope, or None (ASGI ``receive`` is the way)."""
    reader = scope.get(SCOPE_KEY)
    return reader if isinstance(reader, DirectReader) else None
