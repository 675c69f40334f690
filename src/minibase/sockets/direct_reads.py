"""Client-to-server WebSocket messages handed to the app as soon as they are parsed.

Why: through ASGI, each message a socket receives goes from Uvicorn's protocol into a
queue; Uvicorn pauses reading the socket (until the app has taken the message), the
app's task wakes on a later turn of the event loop, takes it through Starlette's
``receive`` and every middleware's receive wrapper, and Uvicorn resumes reading. With 50
editors sending small Yjs updates, that round costs a collab server more CPU than
decoding and integrating the update itself, and adds a turn of the loop to every edit's
latency.

So, for sockets served by Uvicorn's websockets sans-I/O protocol (what ``minibase
serve`` runs; the same one :mod:`minibase.sockets.direct_frames` writes to), a
:class:`DirectReader` hands each complete binary message to a handler right where the
protocol has parsed it (inside its ``data_received``), in order, in the context of the
connection's app task. Everything else stays on the ASGI path: text messages, the
disconnect, the close handshake, pings and pongs, the size limit and every other check
of the parser (it still parses every frame). A message that arrives after a close frame
was sent is dropped, as Uvicorn drops it.

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

SCOPE_KEY = "minibase.direct_reads"
"""Where :class:`~minibase.sockets.direct_frames.DirectFramesMiddleware` leaves the
socket's reader in the ASGI scope."""

Handler = Callable[[bytes], None]
"""Takes one complete binary message."""

_WAKE: dict[str, Any] = {"type": "websocket.receive", "bytes": b""}


class DirectReader:
    """Hands one Uvicorn WebSocket connection's binary messages to a handler directly."""

    __slots__ = ("_protocol", "_running")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self, handler: Handler) -> bool:
        """Hand every binary message from now on to ``handler``; False: not possible now.

        Only when nothing waits for the app in the ASGI queue (or half-assembled in the
        protocol), so no message can overtake one received before; call it from the task
        that reads the socket, right after a ``receive``. The handler runs in a copy of
        the caller's context (its request id is on every log line, as before).
        """
        p = self._protocol
        if self._running or p.close_sent or p.frames or not p.queue.empty():
            return False
        context = contextvars.copy_context()
        ordinary = type(p).send_receive_event_to_app.__get__(p)

        def deliver() -> None:
            # Uvicorn calls this once a message's last frame is parsed (``p.frames``
            # holds its fragments). Text and anything after a close go the ASGI way.
            if p.curr_msg_data_type != "bytes" or p.close_sent:
                ordinary()
                return
            frames = p.frames
            p.frames = []
            context.run(handler, frames[0] if len(frames) == 1 else b"".join(frames))

        # An attribute of the instance comes before the class's method: the protocol's
        # handle_bytes and handle_cont call this one from now on.
        p.send_receive_event_to_app = deliver
        self._running = True
        return True

    def stop(self, *, wake: bool = False) -> None:
        """Back to the ASGI path; ``wake``: end the app's pending ``receive`` (with an
        empty binary message) so it notices what the handler decided."""
        if self._running:
            del self._protocol.send_receive_event_to_app
            self._running = False
        if wake:
            self._protocol.queue.put_nowait(dict(_WAKE))


def reader_of(scope: Mapping[str, Any]) -> DirectReader | None:
    """The direct reader of a WebSocket's scope, or None (ASGI ``receive`` is the way)."""
    reader = scope.get(SCOPE_KEY)
    return reader if isinstance(reader, DirectReader) else None
