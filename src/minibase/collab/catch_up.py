"""Catch-up: integrate what other instances appended to a live flow's update log.

Another instance's ``collab.update`` event asks for a catch-up; requests that arrive
while one runs are coalesced into one more pass. The updates read are durable already,
so they are broadcast without being appended again (:meth:`DurableBroadcast.remote`).
The rules run on what they changed: an edge added on one instance to a node deleted on
another is only visible where both meet. Then the room integrates what its editors sent
ahead of these updates (:mod:`minibase.collab.held_updates`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from minibase.collab.broadcast import DurableBroadcast
from minibase.collab.flow_doc import Changes, FlowDoc
from minibase.collab.rules import ORIGIN_RULES, enforce
from minibase.domain.collab import Limits
from minibase.logs import detached
from minibase.store.collab_log import CollabStore

log = logging.getLogger("minibase.collab")

ORIGIN_REMOTE = "server:remote"


class CatchUp:
    """Follows the update log beyond what this room integrated (its watermark)."""

    def __init__(
        self,
        flow: FlowDoc,
        broadcast: DurableBroadcast,
        persistence: CollabStore | None,
        limits: Limits,
        watermark: int,
        on_changes: Callable[[Changes], None] | None = None,
        settle: Callable[[], None] | None = None,
        integrated: Callable[[], None] | None = None,
    ) -> None:
        self._flow = flow
        self._integrated = integrated
        self._settle = settle
        self._on_changes = on_changes
        self._broadcast = broadcast
        self._persistence = persistence
        self._limits = limits
        self.watermark = watermark
        """The highest log seq this room has integrated with nothing missing below it."""
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def stored(self, seq: int) -> None:
        """This room appended ``seq`` to the log."""
        if seq == self.watermark + 1:
            self.watermark = seq

    def request(self) -> None:
        """Another instance stored updates of this flow: read and integrate them (coalesced)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._loop(), name="collab-catch-up", context=detached())

    async def _loop(self) -> None:
        self._again = True
        while self._again and not self._broadcast.broken:
            self._again = False
            try:
                await self.run()
            except (SQLAlchemyError, OSError):
                log.exception("collab catch-up failed", extra={"org": self._broadcast.org_id})
                return

    async def run(self) -> None:
        """Integrate what the log holds beyond the watermark and broadcast it."""
        if self._persistence is None:
            return
        broadcast = self._broadcast
        stored = await self._persistence.load(
            broadcast.org_id, broadcast.flow_id, after_seq=self.watermark
        )
        if stored.empty:
            return
        if self._settle is not None:
            self._settle()  # local edits get their own check (their author, their limits)
        # What yrs takes from the rows (a snapshot overlaps what the room has).
        with (
            self._flow.capturing(broadcast.queue_remote),
            self._flow.doc.transaction(origin=ORIGIN_REMOTE),
        ):
            if stored.snapshot is not None:
                self._flow.doc.apply_update(stored.snapshot)
            for update in stored.updates:
                self._flow.doc.apply_update(update)
        self.watermark = max(self.watermark, stored.last_seq)
        changes, _ = enforce(
            self._flow, self._limits, origin=ORIGIN_RULES, on_update=broadcast.queue
        )
        if changes and self._on_changes is not None:
            self._on_changes(changes)
        broadcast.schedule()
        if self._integrated is not None:
            self._integrated()  # what editors here sent ahead may follow now

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
