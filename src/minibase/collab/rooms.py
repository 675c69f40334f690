"""The rooms of one instance: loading, sharing and unloading them.

:class:`RoomManager` is the object the app's lifespan builds and the flows REST service
calls (``apply_flow``). A room is loaded once per ``(org, flow)``: concurrent joiners
await the same loading task (no lock is held for the room's life, so a slow load never
makes a later joiner wait for anything but that load). A room whose last client left is
unloaded after ``options.unload_delay``: its pending updates are stored, its last edits
handed to the REST flow, its log compacted, and the document released.

The manager follows the bus: another instance's ``collab.update`` makes the room catch up
(:mod:`minibase.collab.catch_up`), a committed REST change makes it merge that change in
(:mod:`minibase.collab.rest_sync`), a deleted flow unloads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from pycrdt import Doc

from minibase.collab.client import Client
from minibase.collab.flow_doc import FlowDoc
from minibase.collab.options import CollabOptions
from minibase.collab.rebase import rebaser
from minibase.collab.rest_sync import RestSync
from minibase.collab.room import ORIGIN_SEED, Room
from minibase.domain.collab import FlowBridge
from minibase.domain.events import Event, EventBus, EventKind
from minibase.domain.flow_json import FlowJSON
from minibase.domain.principal import SYSTEM, Principal
from minibase.ids import now_ms
from minibase.logs import detached
from minibase.store.collab_log import CollabStore, StoredDoc

log = logging.getLogger("minibase.collab")

RoomKey = tuple[str, str]


class RoomManager:
    """Every loaded room of this instance, by ``(org_id, flow_id)``."""

    def __init__(
        self,
        bridge: FlowBridge,
        persistence: CollabStore | None,
        options: CollabOptions | None = None,
    ) -> None:
        self.bridge = bridge
        self.persistence = persistence
        self.options = options or CollabOptions()
        self._rooms: dict[RoomKey, Room] = {}
        self._loading: dict[RoomKey, asyncio.Task[Room]] = {}
        self._closing: dict[RoomKey, asyncio.Task[None]] = {}
        self._timers: dict[RoomKey, asyncio.TimerHandle] = {}
        self._busy: dict[RoomKey, int] = {}
        self._closed = False
        self._bus_unsubscribe: Callable[[], None] | None = None
        self.rest_sync = RestSync(bridge)

    # --- other instances --------------------------------------------------------------

    def subscribe(self, bus: EventBus) -> None:
        """Follow appends of other instances (``collab.update`` events) on ``bus``."""
        self._bus_unsubscribe = bus.subscribe(self._on_event)

    async def _on_event(self, event: Event) -> None:
        if event.kind == EventKind.FLOW and event.ids:
            # A committed REST change (here or on another instance) of a live flow.
            room = self._rooms.get((event.org_id, event.ids[0]))
            if room is not None:
                if event.extra.get("deleted"):
                    await self.unload_flow(event.org_id, event.ids[0])
                else:
                    self.rest_sync.schedule(room)
            return
        if event.kind != EventKind.COLLAB_UPDATE or not event.ids or self.persistence is None:
            return
        if event.extra.get("instance") == self.persistence.instance_id:
            return
        room = self._rooms.get((event.org_id, event.ids[0]))
        if room is not None:
            room.catch_up.request()

    # --- public API -------------------------------------------------------------------

    def loaded(self, org_id: str, flow_id: str) -> Room | None:
        """The room of ``(org_id, flow_id)`` if it is loaded here."""
        return self._rooms.get((org_id, flow_id))

    def rooms(self) -> list[Room]:
        """Every room loaded here."""
        return list(self._rooms.values())

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    async def apply_flow(
        self, org_id: str, flow_id: str, flow_json: FlowJSON, author: Principal
    ) -> bytes:
        """Apply a REST write to the live document as ONE minimal Yjs transaction.

        The update is stored in the flow's update log and broadcast to connected editors
        before this returns; returns the update (``b""`` when nothing changed). Call it
        after the REST transaction committed (on SQLite both need the one writer).
        ``FlowBridge.on_change`` is not called for it.
        """
        async with self._using(org_id, flow_id) as room:
            return await room.apply_flow(flow_json, author)

    async def materialized(self, org_id: str, flow_id: str) -> FlowJSON:
        """The live flow ``{"name", "nodes", "edges"}`` (loads the room if needed)."""
        async with self._using(org_id, flow_id) as room:
            return room.materialize()

    async def join(self, org_id: str, flow_id: str, client: Client) -> Room:
        """Load (or share) the room and add ``client``; raises ``NotFound`` from the bridge."""
        async with self._using(org_id, flow_id, unload=False) as room:
            room.join(client)
            return room

    @asynccontextmanager
    async def _using(
        self, org_id: str, flow_id: str, *, unload: bool = True
    ) -> AsyncIterator[Room]:
        """The room, kept loaded while in use; unloaded later if no client is left."""
        key = (org_id, flow_id)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield await self.room(org_id, flow_id)
        finally:
            self._busy[key] -= 1
            if not self._busy[key]:
                del self._busy[key]
            if unload:
                self._maybe_schedule_unload(key)

    def leave(self, room: Room, client: Client) -> None:
        room.leave(client)
        self._maybe_schedule_unload((room.org_id, room.flow_id))

    async def unload_flow(self, org_id: str, flow_id: str) -> None:
        """Close the room now (e.g. the flow was deleted): its clients are disconnected."""
        key = (org_id, flow_id)
        room = self._rooms.get(key)
        if room is None:
            return
        for client in list(room.clients):
            client.close_soon(4404, "flow deleted")
        await self._unload(key, force=True)

    async def close(self) -> None:
        """Unload every room (the app is stopping)."""
        self._closed = True
        if self._bus_unsubscribe is not None:
            self._bus_unsubscribe()
            self._bus_unsubscribe = None
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._loading.values()):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        for key, room in list(self._rooms.items()):
            for client in list(room.clients):
                client.close_soon(1001, "server shutting down")
            await self._unload(key, force=True)
        if self._closing:
            await asyncio.gather(*self._closing.values(), return_exceptions=True)

    # --- loading ----------------------------------------------------------------------

    async def room(self, org_id: str, flow_id: str) -> Room:
        key = (org_id, flow_id)
        while True:
            closing = self._closing.get(key)
            if closing is not None:
                await asyncio.shield(closing)
                continue
            room = self._rooms.get(key)
            if room is not None and not room.broken:
                timer = self._timers.pop(key, None)
                if timer is not None:
                    timer.cancel()
                return room
            if room is not None:  # broken: drop it and load afresh
                await self._unload(key, force=True)
                continue
            task = self._loading.get(key)
            if task is None:
                task = asyncio.create_task(
                    self._load(key), name=f"collab-load-{flow_id}", context=detached()
                )
                self._loading[key] = task
            return await asyncio.shield(task)

    async def _load(self, key: RoomKey) -> Room:
        org_id, flow_id = key
        try:
            hint = await self.bridge.load(org_id, flow_id)
            stored = None
            if self.persistence is not None:
                stored = await self.persistence.load(org_id, flow_id)
                if await self._rebased(org_id, flow_id, stored):
                    stored = await self.persistence.load(org_id, flow_id)
            log_rows = log_bytes = snapshot_bytes = watermark = 0
            if stored is None or stored.empty:
                flow_doc = FlowDoc()
                seed = flow_doc.apply_flow(hint, origin=ORIGIN_SEED)
                if seed and self.persistence is not None:
                    watermark = await self.persistence.append(org_id, flow_id, seed, SYSTEM)
                    log_rows, log_bytes = 1, len(seed)
                if isinstance(hint.get("version"), int):
                    await self.bridge.synced(org_id, flow_id, hint["version"])
            else:
                doc: Doc[Any] = Doc()
                with doc.transaction():
                    if stored.snapshot is not None:
                        doc.apply_update(stored.snapshot)
                    for update in stored.updates:
                        doc.apply_update(update)
                flow_doc = FlowDoc(doc)
                flow_doc.set_order(hint)
                log_rows, log_bytes = len(stored.updates), stored.log_bytes
                snapshot_bytes = len(stored.snapshot or b"")
                watermark = stored.last_seq
            room = Room(
                org_id,
                flow_id,
                flow_doc,
                options=self.options,
                persistence=self.persistence,
                bridge=self.bridge,
                log_rows=log_rows,
                log_bytes=log_bytes,
                snapshot_bytes=snapshot_bytes,
                watermark=watermark,
            )
            self._rooms[key] = room
            if self._bus_unsubscribe is not None:
                room.catch_up.request()  # appends other instances made while we loaded
            if stored is not None and not stored.empty:
                # REST writes made while no room was live are not in the stored state.
                await self.rest_sync.sync(room)
            return room
        finally:
            self._loading.pop(key, None)

    async def _rebased(self, org_id: str, flow_id: str, stored: StoredDoc) -> bool:
        """Rebase the stored state before the room loads it, if the options allow it and
        it is large and has been unchanged long enough (:mod:`minibase.collab.rebase`)."""
        over = self.options.rebase_over_bytes
        if (
            over is None
            or self.persistence is None
            or stored.snapshot is None
            or stored.updates
            or len(stored.snapshot) <= over
            or stored.snapshot_at is None
        ):
            return False
        unchanged_since = now_ms() - int(self.options.rebase_idle * 1000)
        if stored.snapshot_at > unchanged_since:
            return False
        return await self.persistence.rebase(
            org_id, flow_id, rebaser(over), unchanged_since=unchanged_since
        )

    # --- unloading --------------------------------------------------------------------

    def _maybe_schedule_unload(self, key: RoomKey) -> None:
        room = self._rooms.get(key)
        if room is None or room.clients or key in self._busy or key in self._timers:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.options.unload_delay, self._unload_later, key)

    def _unload_later(self, key: RoomKey) -> None:
        self._timers.pop(key, None)
        if key not in self._closing:
            self._closing[key] = asyncio.create_task(self._unload_task(key), context=detached())

    async def _unload_task(self, key: RoomKey) -> None:
        try:
            await self._do_unload(key, force=False)
        finally:
            self._closing.pop(key, None)

    async def _unload(self, key: RoomKey, *, force: bool) -> None:
        closing = self._closing.get(key)
        if closing is not None:
            await asyncio.shield(closing)
            return
        task = asyncio.create_task(self._do_unload(key, force=force), context=detached())
        self._closing[key] = task
        try:
            await asyncio.shield(task)
        finally:
            self._closing.pop(key, None)

    async def _do_unload(self, key: RoomKey, *, force: bool) -> None:
        room = self._rooms.get(key)
        if room is None:
            return
        if not force and (room.clients or key in self._busy):
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        clients = list(room.clients)
        try:
            await room.close()
        finally:
            del self._rooms[key]
        for client in clients:
            await client.stop()
