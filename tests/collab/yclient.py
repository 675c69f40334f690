"""A small y-websocket client on pycrdt and the ``websockets`` library (tests and bench)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from pycrdt import Doc, Map, TransactionEvent
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from minibase.collab import protocol
from minibase.collab.flow_doc import FlowDoc

REMOTE = "remote"


class YClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.doc: Doc[Any] = Doc()
        self.flow = FlowDoc(self.doc)
        self.nodes: Map[Any] = self.flow.nodes
        self.edges: Map[Any] = self.flow.edges
        self.ws: ClientConnection | None = None
        self.synced = asyncio.Event()
        self.denied: list[str] = []
        self.notifications: list[dict[str, Any]] = []
        self.awareness: dict[int, str] = {}
        self.frames: list[bytes] = []
        self.close_code: int | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self.doc.observe(self._on_local)

    async def __aenter__(self) -> YClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, wait_sync: bool = True) -> None:
        self.ws = await connect(self.url, compression=None, max_size=None)
        self._reader = asyncio.create_task(self._read())
        # The server may refuse (close) at once; the reader records the close code.
        await self.send(protocol.sync_step1(self.doc.get_state()))
        if wait_sync:
            await asyncio.wait_for(self.synced.wait(), 10)

    def _on_local(self, event: TransactionEvent) -> None:
        if event.transaction.origin == REMOTE or self.ws is None:
            return
        update = event.update
        if update and update != b"\x00\x00":
            asyncio.get_running_loop().create_task(self.send(protocol.sync_update(update)))

    async def send(self, frame: bytes) -> None:
        assert self.ws is not None
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(frame)

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes)
                self.frames.append(frame)
                self._handle(protocol.decode_message(frame))
                async with self._changed:
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            async with self._changed:
                self._changed.notify_all()

    def _handle(self, message: protocol.Message) -> None:
        match message:
            case protocol.SyncStep1(sv):
                asyncio.get_running_loop().create_task(
                    self.send(protocol.sync_step2(self.doc.get_update(sv)))
                )
            case protocol.SyncStep2(update):
                with self.doc.transaction(origin=REMOTE):
                    self.doc.apply_update(update)
                self.synced.set()
            case protocol.SyncUpdate(update):
                with self.doc.transaction(origin=REMOTE):
                    self.doc.apply_update(update)
            case protocol.AwarenessUpdate(update):
                for entry in protocol.decode_awareness_update(update):
                    if entry.removed:
                        self.awareness.pop(entry.client_id, None)
                    else:
                        self.awareness[entry.client_id] = entry.state
            case protocol.PermissionDenied(reason):
                self.denied.append(reason)
            case protocol.Notification(payload):
                self.notifications.append(payload)
            case _:
                pass

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiter(), within)

    async def edit(self, change: Callable[[], object], within: float = 5.0) -> None:
        """Make a local change and wait for the next update the server broadcasts back.

        The server broadcasts an update to its author too, after storing it, so with one
        writer in the room the change is then stored and in the server's document.
        """
        seen = len(self.frames)
        change()

        def echoed() -> bool:
            return any(frame[:2] == b"\x00\x02" for frame in self.frames[seen:])

        await self.wait_for(echoed, within)

    async def round_trip(self, within: float = 5.0) -> None:
        """Ask for the awareness states and wait for the answer.

        The server handles a socket's frames in order, so everything it answers to
        frames sent before has arrived by then.
        """
        seen = len(self.frames)
        await self.send(protocol.query_awareness())

        def answered() -> bool:
            return any(frame[:1] == b"\x01" for frame in self.frames[seen:])

        await self.wait_for(answered, within)

    def materialize(self) -> dict[str, Any]:
        return self.flow.materialize()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
