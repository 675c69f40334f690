"""Durable broadcast: what the room integrated is stored, then sent as one frame.

The room queues each update it integrated: an editor's as it came
(:meth:`DurableBroadcast.queue`), the server's own transactions (a rules compensation, a
REST write) as their captured update (:meth:`minibase.collab.flow_doc.FlowDoc.capturing`).
One flusher task merges everything queued (``merge_updates``, which also drops whatever
an editor's frame carried after its update), appends it to the update log and only then
broadcasts it as ONE frame to every synced client, the author included. Updates arriving
while the append is in flight form the next batch, so under load batches grow and the
per-update cost falls (as Hocuspocus does per event-loop turn).

An editor's update is queued whole, not what yrs took from it: the document has no
standing observer, because while it has one pycrdt encodes the update of every
transaction, and that costs in proportion to the Yjs clients the document has ever seen
(13 µs an update at 400; docs/benchmarks.md, "No standing observer"). So a duplicate
is stored and sent again (clients ignore it), and so is a part yrs keeps pending until
what it builds on arrives: it is in the log when that comes.

Under load the flusher also gathers: when a batch holds more than one update (or the one
before did), it lets the event loop turn for as long as new updates keep coming, until
none has come for :data:`QUIET_SECONDS` (150 µs; 5 µs per update of the batch before
when that is less), up to :data:`GATHER_SECONDS`. Writers
answering the last broadcast arrive over a few milliseconds, tens of microseconds
apart; gathered, their updates cost one append and one frame per socket instead of
several. Measured with 50 writers and 50 readers: ending a batch after one quiet loop
turn gave about 16 updates a frame, after two about 29, after 150 µs without one 48;
each step cut the CPU per update (docs/benchmarks.md, "Gathering for a quiet time"). The
turns spent waiting cost a few µs each, far less than the frames they save, and a room
whose batches are small waits in proportion (two updates: 10 µs). A lone edit
(one writer) is never held.

Before it takes a batch, the flusher calls ``before_batch``: the room's rules check of
what editors integrated (:mod:`minibase.collab.checks`), whose compensating transaction
joins the batch.

Updates another instance stored (:meth:`DurableBroadcast.queue_remote`, what the
catch-up integrated) are durable already: they go out with the next frame without being
appended again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from pycrdt import merge_updates
from sqlalchemy.exc import SQLAlchemyError

from minibase.collab import protocol
from minibase.collab.client import Client
from minibase.collab.flow_doc import EMPTY_UPDATE
from minibase.collab.rules import Removal, rule_violation
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import ServiceUnavailable
from minibase.logs import detached
from minibase.store.collab_log import CollabStore

log = logging.getLogger("minibase.collab")

CLOSE_SERVER_ERROR = 1011

GATHER_SECONDS = 0.002
"""How long a batch may wait for the updates that keep arriving turn after turn."""

QUIET_SECONDS = 0.00015
"""Under load, a batch goes out once no update has come for this long ..."""

QUIET_PER_UPDATE = 0.000005
"""... or for this long per update of the batch before, if that is shorter: the loop
turns spent waiting cost CPU, so a room with small batches waits little."""

Stored = Callable[[int, int], None]
"""Called with ``(seq, bytes)`` after each append to the update log."""


class DurableBroadcast:
    """The room's outgoing document updates: batched, stored, then broadcast."""

    def __init__(
        self,
        org_id: str,
        flow_id: str,
        clients: set[Client],
        persistence: CollabStore | None,
        on_stored: Stored,
        before_batch: Callable[[], None] | None = None,
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self.broken = False
        """An append failed: the room closed its clients and refuses writes."""
        self._clients = clients
        self._persistence = persistence
        self._on_stored = on_stored
        self._before_batch = before_batch
        self._pending: list[bytes] = []
        self._remote: list[bytes] = []
        self._notes: list[tuple[Client, list[Removal]]] = []
        self._author: Principal | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._last_batch = 0

    def queue(self, update: bytes) -> None:
        """Store and broadcast ``update`` with the next batch (call :meth:`schedule`)."""
        self._pending.append(update)

    @property
    def queued(self) -> int:
        """How many local updates wait for the next append (grows with each queued)."""
        return len(self._pending)

    def queue_remote(self, update: bytes) -> None:
        """Broadcast ``update``, which another instance stored, with the next batch."""
        self._remote.append(update)

    @property
    def busy(self) -> bool:
        """Something integrated is not stored and broadcast yet."""
        return bool(self._pending) or (self._flusher is not None and not self._flusher.done())

    def claim(self, author: Principal) -> None:
        """The batch being gathered is stored under ``author`` unless it has one already."""
        if self._author is None:
            self._author = author

    def notify(self, client: Client, removals: list[Removal]) -> None:
        """Tell ``client`` what the rules removed, once the batch is broadcast."""
        self._notes.append((client, removals))

    def schedule(self) -> None:
        if (self._pending or self._remote) and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(
                self._flush(), name="collab-flush", context=detached()
            )

    async def _flush(self) -> None:
        while (self._pending or self._remote) and not self.broken:
            if self._last_batch > 1 or len(self._pending) > 1:
                await self._gather()
            if self._before_batch is not None and not self._checked():
                return
            batch, self._pending = self._pending, []
            self._last_batch = len(batch)
            remote, self._remote = self._remote, []
            notes, self._notes = self._notes, []
            author, self._author = self._author, None
            # Merged even when alone: yrs reads an update and ignores what follows it in
            # the frame, which must not be stored or sent on.
            update = merge_updates(*batch) if batch else b""
            if update == EMPTY_UPDATE:
                update = b""  # a client's empty update, or one only of what came after it
            if update and self._persistence is not None:
                try:
                    seq = await self._persistence.append(
                        self.org_id, self.flow_id, update, author or SYSTEM
                    )
                except (SQLAlchemyError, OSError):
                    log.exception(
                        "collab update could not be stored; closing the room",
                        extra={"org": self.org_id, "flow": self.flow_id},
                    )
                    self._break()
                    return
                self._on_stored(seq, len(update))
            out = [update] if update else []
            out += remote
            if out:
                frame = protocol.sync_update(out[0] if len(out) == 1 else merge_updates(*out))
                for client in self._clients:
                    if client.synced:
                        client.send(frame)
            for client, removals in notes:
                client.send(protocol.notification(rule_violation(removals)))

    def _checked(self) -> bool:
        """Run ``before_batch``; a failure breaks the room (nothing unchecked goes out)."""
        assert self._before_batch is not None
        try:
            self._before_batch()
        except Exception:
            log.exception(
                "collab rules check failed; closing the room",
                extra={"org": self.org_id, "flow": self.flow_id},
            )
            self._break()
            return False
        return True

    async def _gather(self) -> None:
        """Let the loop turn while updates keep coming: until none came for the quiet
        time (:data:`QUIET_SECONDS`, less after a small batch), up to
        :data:`GATHER_SECONDS` in all."""
        start = last = time.monotonic()
        arrived = len(self._pending) + len(self._remote)
        quiet = min(QUIET_SECONDS, QUIET_PER_UPDATE * max(self._last_batch, arrived))
        while not self.broken:
            await asyncio.sleep(0)
            now = time.monotonic()
            count = len(self._pending) + len(self._remote)
            if count != arrived:
                arrived, last = count, now
            elif now - last >= quiet:
                return
            if now - start >= GATHER_SECONDS:
                return

    async def drain(self) -> None:
        """Wait until everything integrated so far is stored and broadcast.

        Raises :class:`ServiceUnavailable` when the room broke (an append failed).
        """
        while not self.broken and (self._pending or self._remote or self.busy):
            self.schedule()
            if self._flusher is not None:
                await asyncio.shield(self._flusher)
        if self.broken:
            raise ServiceUnavailable("The live flow document could not be stored.")

    def _break(self) -> None:
        self.broken = True
        self._pending.clear()
        self._remote.clear()
        for client in self._clients:
            client.close_soon(CLOSE_SERVER_ERROR, "storage failure")
