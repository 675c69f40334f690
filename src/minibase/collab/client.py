"""One connected socket of a room: its access, its outgoing queue and its writer task.

The room never waits for a socket: :meth:`Client.send` writes a frame at once only when
the socket takes it without waiting and nothing is queued before it (the direct path of
:mod:`minibase.sockets.direct_frames`); otherwise it queues, and one writer task per
socket writes. What a socket may have waiting is bounded in frames and in bytes; a
client that falls further behind (a reader that stopped reading, a dead peer whose
buffers are full) is closed with :data:`CLOSE_TOO_SLOW` and what it had waiting is
dropped at once, so it costs the other clients nothing and the server no more memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Protocol

from minibase.domain.collab import CollabAccess
from minibase.sockets.direct_frames import DirectWriter

CLOSE_TOO_SLOW = 1013
"""Close code of a client that fell too far behind ("try again later": the y-websocket
client reconnects and its sync handshake brings it up to date)."""

CLOSE_PROTOCOL_ERROR = 1002
"""Close code of a client that sent a frame that is not a y-websocket message, or an
update yrs refuses."""

CLOSE_TIMEOUT = 5.0
"""How long a close frame may wait for a socket that does not take it (a dead reader)."""


class Transport(Protocol):
    """The socket side of a client (Starlette's ``WebSocket`` fits)."""

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Client:
    """One connected socket: frames are queued by the room and written by one task.

    A client with more than ``max_queued`` frames or ``max_queued_bytes`` bytes waiting
    is closed with :data:`CLOSE_TOO_SLOW` instead of buffering more.
    """

    # Slots: a broadcast reads a few of these per socket, right after the previous
    # socket's system call has evicted the CPU's caches; a dict per client costs misses.
    __slots__ = (
        "_close",
        "_closer",
        "_direct",
        "_frames",
        "_max_bytes",
        "_max_queued",
        "_ready",
        "_writer",
        "_writing",
        "access",
        "closed",
        "denied",
        "id",
        "in_order",
        "queued_bytes",
        "synced",
        "transport",
    )

    _next_id = 0

    def __init__(
        self,
        transport: Transport,
        access: CollabAccess,
        *,
        max_queued: int,
        max_queued_bytes: int = 16 * 1024 * 1024,
        direct: DirectWriter | None = None,
    ) -> None:
        Client._next_id += 1
        self.id = Client._next_id
        self.transport = transport
        self.access = access
        self._direct = direct
        self.synced = False
        """Answered sync step 2: the client is in the document broadcast."""
        self.denied = False
        """A viewer that was told ``read-only`` once."""
        self.in_order = False
        """One of its updates followed what the room had: its later ones follow too
        (one socket keeps their order), so the room stops checking
        (:mod:`minibase.collab.held_updates`)."""
        self.closed = False
        self._max_queued = max_queued
        self._max_bytes = max_queued_bytes
        self._frames: deque[bytes] = deque()
        self.queued_bytes = 0
        """Bytes waiting for this socket (frames the writer has not taken yet)."""
        self._ready = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._writing = False
        self._closer: asyncio.Task[None] | None = None
        self._close = (1000, "")

    @property
    def close_code(self) -> int | None:
        """The code this socket is closed (or being closed) with; None while open."""
        return self._close[0] if self.closed else None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"collab-writer-{self.id}")

    def send(self, frame: bytes) -> None:
        """Queue ``frame`` (the same bytes object may go to every client of a room)."""
        if self.closed:
            return
        # Nothing waits before it: write it now, encoded once for the whole broadcast
        # (minibase.sockets.direct_frames). Else it queues behind what waits.
        if (
            not self._frames
            and not self._writing
            and self._direct is not None
            and self._direct.write(frame)
        ):
            return
        if (
            len(self._frames) >= self._max_queued
            or self.queued_bytes + len(frame) > self._max_bytes
        ):
            self.abandon(CLOSE_TOO_SLOW, "client too slow")
            return
        self._frames.append(frame)
        self.queued_bytes += len(frame)
        self._ready.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Stop sending and close the socket (from the writer, after queued frames)."""
        if self.closed:
            return
        self.closed = True
        self._close = (code, reason)
        self._ready.set()

    def abandon(self, code: int, reason: str) -> None:
        """Close at once: drop what is queued, and stop a write the socket does not take.

        A write only waits when the socket's buffers are full (the peer is not reading),
        and it has written nothing while it waits, so stopping it cuts no frame in two.
        """
        if self.closed:
            return
        self.closed = True
        self._close = (code, reason)
        self._frames.clear()
        self.queued_bytes = 0
        self._ready.set()
        if self._writer is not None and self._writing:
            self._writer.cancel()
            self._closer = asyncio.create_task(self._close_socket(), name=f"collab-close-{self.id}")

    async def _write(self) -> None:
        try:
            while True:
                while not self._frames:
                    if self.closed:
                        await self._close_socket()
                        return
                    self._ready.clear()
                    await self._ready.wait()
                frame = self._frames.popleft()
                self.queued_bytes -= len(frame)
                self._writing = True
                await self.transport.send_bytes(frame)
                self._writing = False
        except (RuntimeError, OSError):
            # The socket went away; the endpoint's receive loop notices and leaves.
            self.closed = True
        except Exception as exc:
            if type(exc).__name__ not in {"WebSocketDisconnect", "ClientDisconnected"}:
                raise
            self.closed = True

    async def _close_socket(self) -> None:
        code, reason = self._close
        with contextlib.suppress(RuntimeError, OSError, TimeoutError):
            await asyncio.wait_for(self.transport.close(code, reason), CLOSE_TIMEOUT)

    async def stop(self) -> None:
        """Let the writer send what is queued, then end it."""
        if self._writer is None:
            return
        if not self.closed:
            self.closed = True
            self._close = (1000, "")
            self._ready.set()
        for task in (self._writer, self._closer):
            if task is None:
                continue
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=CLOSE_TIMEOUT)
                except TimeoutError:
                    task.cancel()
