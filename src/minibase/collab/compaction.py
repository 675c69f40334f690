"""Compaction of a flow's update log: a snapshot replaces the rows behind it.

The log grows with every stored batch; once ``compact_after_updates`` rows or
``compact_after_bytes`` bytes follow the snapshot, one compaction task folds them into a
new snapshot (interleaved edits of many clients make the encoded state grow, so
long-lived flows need it). A room that unloads compacts what it left behind.
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
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self._persistence = persistence
        self._after_updates = after_updates
        self._after_bytes = after_bytes
        self._rows = rows
        self._bytes = size
        self._task: asyncio.Task[None] | None = None

    def stored(self, size: int) -> None:
        """A row of ``size`` bytes was appended; compact if the log is past a threshold."""
        self._rows += 1
        self._bytes += size
        if self._persistence is None or (self._task is not None and not self._task.done()):
            return
        if self._rows >= self._after_updates or self._bytes >= self._after_bytes:
            self._task = asyncio.create_task(
                self.compact(), name="collab-compact", context=detached()
            )

    async def compact(self) -> None:
        if self._persistence is None:
            return
        self._rows = 0
        self._bytes = 0
        try:
            await self._persistence.compact(self.org_id, self.flow_id)
        except (SQLAlchemyError, OSError):
            log.exception("collab compaction failed", extra={"org": self.org_id})

    async def close(self, *, compact: bool) -> None:
        """Wait for a running compaction; compact what is left if ``compact``."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if compact and self._rows:
            await self.compact()
