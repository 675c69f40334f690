"""Compaction of a flow's update log: a snapshot replaces the rows behind it.

The log grows with every stored batch; once ``compact_after_updates`` rows or
``compact_after_bytes`` bytes follow the snapshot, one compaction task folds them into a
new snapshot (interleaved edits of many clients make the encoded state grow, so
long-lived flows need it). A room that unloads compacts what it left behind.

A compaction reads the whole snapshot again, so it also waits until the log holds half
the snapshot's bytes: the work per stored byte stays bounded however large the flow
grows (a compaction reads at most three bytes per byte the log gained), and a room
loads at most half a snapshot's worth of rows after it. With a fixed threshold, a flow
that grew to a few MB was compacted, all of it, every 1 MiB of edits: 4 % of the
server's CPU under 50 writers whose edits add nodes.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from minibase.logs import detached
from minibase.store.collab_log import CollabStore

log = logging.getLogger("minibase.collab")


class Compactor:
    """Counts what follows the snapshot and compacts past the thresholds."""

    def __init__(
        self,
        org_id: str,
        flow_id: str,
        persistence: CollabStore | None,
        *,
        after_updates: int,
        after_bytes: int,
        rows: int = 0,
        size: int = 0,
        snapshot_bytes: int = 0,
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self._persistence = persistence
        self._after_updates = after_updates
        self._after_bytes = after_bytes
        self._rows = rows
        self._bytes = size
        self._snapshot_bytes = snapshot_bytes
        self._task: asyncio.Task[None] | None = None

    def stored(self, size: int) -> None:
        """A row of ``size`` bytes was appended; compact if the log is past a threshold."""
        self._rows += 1
        self._bytes += size
        if self._persistence is None or (self._task is not None and not self._task.done()):
            return
        if self.due:
            self._task = asyncio.create_task(
                self.compact(), name="collab-compact", context=detached()
            )

    @property
    def snapshot_bytes(self) -> int:
        """The snapshot's size, as of the last compaction (or the room's load)."""
        return self._snapshot_bytes

    @property
    def due(self) -> bool:
        """Whether the log is past a threshold and holds half the snapshot's bytes."""
        past = self._rows >= self._after_updates or self._bytes >= self._after_bytes
        return past and 2 * self._bytes >= self._snapshot_bytes

    async def compact(self) -> None:
        if self._persistence is None:
            return
        self._rows = 0
        self._bytes = 0
        try:
            done = await self._persistence.compact(self.org_id, self.flow_id)
        except (SQLAlchemyError, OSError):
            log.exception("collab compaction failed", extra={"org": self.org_id})
            return
        if done is not None:
            self._snapshot_bytes = done.snapshot_bytes

    async def close(self, *, compact: bool) -> None:
        """Wait for a running compaction; compact what is left if ``compact``."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if compact and self._rows:
            await self.compact()
