"""REST changes into live documents: a three-way merge per committed REST write.

A committed REST change of a flow whose room is loaded (here or on another instance, a
``flow`` event on the bus) schedules one sync of that room; changes arriving while one
runs are coalesced into one more pass. A room that loads from stored Yjs state syncs
once too: REST writes made while no room was live are not in the stored state.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from minibase.collab.room import Room
from minibase.domain.collab import FlowBridge
from minibase.domain.merge import merge_flows
from minibase.domain.principal import SYSTEM
from minibase.errors import MinibaseError
from minibase.logs import detached

log = logging.getLogger("minibase.collab")


class RestSync:
    """Brings REST changes the live documents have not seen into them."""

    def __init__(self, bridge: FlowBridge) -> None:
        self._bridge = bridge
        self._syncing: dict[Room, asyncio.Task[None]] = {}
        self._again: set[Room] = set()

    def schedule(self, room: Room) -> None:
        """Sync ``room`` soon (coalesced with a sync already running)."""
        task = self._syncing.get(room)
        if task is not None and not task.done():
            self._again.add(room)
            return
        task = asyncio.create_task(self._loop(room), name="collab-rest", context=detached())
        self._syncing[room] = task
        task.add_done_callback(lambda _: self._forget(room, task))

    def _forget(self, room: Room, task: asyncio.Task[None]) -> None:
        if self._syncing.get(room) is task:
            del self._syncing[room]

    async def _loop(self, room: Room) -> None:
        self._again.add(room)
        while room in self._again and not room.broken:
            self._again.discard(room)
            try:
                await self.sync(room)
            except MinibaseError as error:
                log.warning(
                    "collab: REST change not applied: %s",
                    error.message,
                    extra={"org": room.org_id, "flow": room.flow_id},
                )
                break
            except SQLAlchemyError:
                log.exception("collab: REST sync failed", extra={"org": room.org_id})
                break
        self._again.discard(room)

    async def sync(self, room: Room) -> None:
        """Bring REST changes the live document has not seen into it, merging three ways.

        Base: the flow version the document last agreed with; current: the live document
        (with edits not yet materialized); incoming: the REST flow. Only what REST changed
        since the base is applied, so no live edit is reverted. The merge and the
        transaction run without yielding to the event loop, so no update slips between.
        """
        async with room.materializer.lock:
            pending = await self._bridge.rest_changes(room.org_id, room.flow_id)
            if pending is None:
                return
            current = room.materialize()
            base = pending.base if pending.base is not None else current
            merged = merge_flows(base, current, pending.flow).flow_doc
            merged.setdefault("name", pending.flow.get("name", ""))
            await room.apply_flow(merged, SYSTEM)
            room.materializer.rest_generation += 1
            await self._bridge.synced(room.org_id, room.flow_id, pending.version)
