"""The materializer: collaborative edits handed to the REST flow as versions.

Accepted edits are handed over debounced: ``materialize_delay`` after the first edit of a
window, one version per author who edited in it, in the order they started. Each author
but the last hands over only the entries its edits touched
(:func:`minibase.domain.collab.with_entries`); the last hands over the whole document,
so the REST flow ends equal to it. Handing over at every change of author instead made
a version per change when several edited at once (50 editors: one per update, and the
server spent more on versions than on the edits). A hand-over waits until the edits it
reflects are durable. REST changes coming into the
document and hand-overs going out both hold :attr:`Materializer.lock`, so a hand-over
never carries a document read before a REST change was applied into it (that would
revert the REST change).

When REST refuses a hand-over (a quota or a limit the room could not know of, such as
the org's storage used elsewhere meanwhile), the room takes those edits back with a
compensating update and tells their author, so the document and the REST flow never
part ways.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping

from minibase.collab.flow_doc import Changes
from minibase.domain.collab import Entry, FlowBridge
from minibase.domain.flow_json import FlowJSON
from minibase.domain.principal import SYSTEM, Principal
from minibase.errors import MinibaseError, ServiceUnavailable
from minibase.logs import detached

log = logging.getLogger("minibase.collab")

TakeBack = Callable[[FlowJSON, Principal, MinibaseError], Awaitable[None]]
"""Undoes a hand-over REST refused: ``(the refused flow, its author, the refusal)``."""


def refused(error: MinibaseError) -> bool:
    """A refusal of the document itself (a limit, a quota, a rule), not a failure."""
    return 400 <= error.status < 500 and error.status not in (404, 409)


class Materializer:
    """Hands a room's document to :meth:`FlowBridge.on_change`, a version per author."""

    def __init__(
        self,
        org_id: str,
        flow_id: str,
        read: Callable[[], FlowJSON],
        bridge: FlowBridge | None,
        delay: float,
        drain: Callable[[], Awaitable[None]],
        take_back: TakeBack,
    ) -> None:
        self.org_id = org_id
        self.flow_id = flow_id
        self._read = read
        self._bridge = bridge
        self._delay = delay
        self._drain = drain
        self._refused = take_back
        self._authors: dict[Principal, set[Entry]] = {}
        """Who edited since the last hand-over (in the order they started), and what."""
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.lock = asyncio.Lock()
        """Held while the document is handed to REST, or REST changes come in."""
        self.rest_generation = 0
        """Raised each time REST changes are applied (under :attr:`lock`)."""

    @property
    def dirty(self) -> bool:
        """Edits are waiting to be handed over."""
        return bool(self._authors)

    def changed(self, touched: Mapping[Principal, Collection[Entry]], changes: Changes) -> None:
        """Accepted edits changed the document (``touched``: what each author's edits
        touched): hand them over soon."""
        if not changes or self._bridge is None:
            return
        for author, entries in touched.items():
            self._authors.setdefault(author, set()).update(entries)
        if not self._authors:
            self._authors[SYSTEM] = set()
        self._start()

    def caught_up(self, changes: Changes) -> None:
        """Another instance's edits came in (catch-up): hand the document over after them.

        Every instance hands over its own document. Without this, a hand-over this
        instance snapshotted before it caught up, committed after the other instance
        handed those edits over, stayed the last REST write: the REST flow kept the older
        view for good although every document had converged. Handing over again after a
        catch-up makes each instance's last hand-over hold all it integrated, so the REST
        flow converges too; usually it already holds these edits and nothing is written.
        Pending edits of local authors stay theirs; otherwise the server is the author.
        """
        if not changes or self._bridge is None:
            return
        if not self._authors:
            self._authors[SYSTEM] = set()
        self._start()

    def _start(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self.flush)

    def flush(self) -> None:
        """Hand the edits made so far over now (in a task)."""
        # The read comes first: it has the room check what waits, which may hand on more.
        snapshot = self._snapshot() if self._authors else None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        authors, self._authors = list(self._authors.items()), {}
        if not authors or snapshot is None or self._bridge is None:
            return
        task = asyncio.create_task(
            self._hand_over(snapshot, self.rest_generation, authors), context=detached()
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _snapshot(self) -> FlowJSON:
        flow_json = self._read()
        return {**flow_json, "nodes": list(flow_json["nodes"]), "edges": list(flow_json["edges"])}

    async def _hand_over(
        self, snapshot: FlowJSON, generation: int, authors: list[tuple[Principal, set[Entry]]]
    ) -> None:
        assert self._bridge is not None
        async with self.lock:
            try:
                await self._drain()  # only after the updates it reflects are durable
            except ServiceUnavailable:
                return
            if generation != self.rest_generation:
                # REST changes came in after the snapshot: handing it over would revert
                # them, so hand over the document as it is now (it includes them).
                snapshot = self._snapshot()
            *shares, (last, _) = authors
            for author, entries in shares:
                await self._hand_over_one(snapshot, author, entries)
            await self._hand_over_one(snapshot, last, None)

    async def _hand_over_one(
        self, snapshot: FlowJSON, author: Principal, only: set[Entry] | None
    ) -> None:
        assert self._bridge is not None
        try:
            await self._bridge.on_change(self.org_id, self.flow_id, snapshot, author, only)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the bridge's failure must not end the room
            if isinstance(error, MinibaseError) and refused(error):
                if only is not None:
                    # One author's share alone: the whole document, handed over last,
                    # is what decides whether edits are taken back.
                    log.info(
                        "collab: one author's share was refused: %s",
                        error.message,
                        extra={"org": self.org_id, "flow": self.flow_id},
                    )
                    return
                # REST refuses the document: take the edits back, both stay one flow.
                await self._take_back(snapshot, author, error)
            else:
                log.exception(
                    "materializing a collab flow failed",
                    extra={"org": self.org_id, "flow": self.flow_id},
                )

    async def _take_back(self, snapshot: FlowJSON, author: Principal, error: MinibaseError) -> None:
        try:
            await self._refused(snapshot, author, error)
        except asyncio.CancelledError:
            raise
        except Exception:  # e.g. the flow was deleted meanwhile, or the room broke
            log.exception(
                "taking back refused collab edits failed",
                extra={"org": self.org_id, "flow": self.flow_id},
            )

    async def close(self, *, hand_over: bool) -> None:
        """Hand the last edits over (unless ``hand_over`` is false) and wait for every task."""
        if hand_over and self.dirty:
            self.flush()
        elif self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
