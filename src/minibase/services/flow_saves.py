"""Group commit for saves: ``PUT``s of one flow that queue up are written together.

Writers of one organization are serialized (its audit chain and usage counters need it),
so when several clients save one flow at once, all but one wait. Instead of each then
paying for its own transaction (on PostgreSQL about ten round trips, most of them while
holding the org's lock), the saves that arrived while a transaction was running are
applied in arrival order, as consecutive versions, in the next one
(``flow_put.save_flows``): one load of the flow, one write of its row, one statement for
their version rows, one for their audit rows, one commit. Each request still gets its own
version, merge report and audit row, exactly as if it had run alone in that order; a save
refused on its own (quota, stale base) is refused alone.

A lone save is a batch of one, so there is one code path. Should a batch's transaction
fail as a whole (a database error), its saves are retried one per transaction, so one
request's failure is never another's.
"""

from __future__ import annotations

import asyncio
from collections import deque

from minibase.config import Settings
from minibase.domain.principal import Principal
from minibase.errors import MinibaseError
from minibase.logs import detached
from minibase.services.audit import RequestMeta
from minibase.services.flow_put import SaveJob, prepare_save, save_flows
from minibase.services.flow_render import FlowResult
from minibase.store.unit_of_work import Store

MAX_BATCH = 32
"""Saves written by one transaction at most (bounds how long one holds the lock)."""

_Key = tuple[str, str]
_Queued = tuple[SaveJob, "asyncio.Future[FlowResult]"]


class FlowSaves:
    """Per-flow queues of validated saves, each drained by one task while it has work."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._queues: dict[_Key, deque[_Queued]] = {}
        self._drainers: set[asyncio.Task[None]] = set()

    async def put(
        self, org_id: str, principal: Principal, flow_id: str, raw: bytes, meta: RequestMeta
    ) -> FlowResult:
        """A flow ``PUT``: ``raw`` (its JSON body) read and validated
        (:func:`~minibase.services.flow_put.prepare_save`), then saved as the flow's next
        version (merged when stale)."""
        job = prepare_save(self._settings, self._store.cache, org_id, flow_id, raw, principal, meta)
        return await self.save(org_id, flow_id, job)

    async def save(self, org_id: str, flow_id: str, job: SaveJob) -> FlowResult:
        """Write ``job`` as the flow's next version (merged when stale) and return it."""
        key = (org_id, flow_id)
        future: asyncio.Future[FlowResult] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            # Its own task, so that a client going away cannot cancel other clients' saves.
            task = asyncio.create_task(
                self._drain(key, queue), name=f"saves {org_id}/{flow_id}", context=detached()
            )
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        queue.append((job, future))
        return await future

    async def _drain(self, key: _Key, queue: deque[_Queued]) -> None:
        batch: list[_Queued] = []
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
                batch = [(job, future) for job, future in batch if not future.done()]
                if batch:
                    await self._write(key, batch)
        finally:
            del self._queues[key]
            for _, future in (*batch, *queue):  # only when cancelled (shutdown)
                future.cancel()

    async def _write(self, key: _Key, batch: list[_Queued]) -> None:
        results: list[FlowResult | BaseException]
        try:
            results = [*await self._transaction(key, [job for job, _ in batch])]
        except MinibaseError as error:
            results = [error] * len(batch)  # about the flow itself (gone, say)
        except Exception as error:  # noqa: BLE001 - handed to the requests, which raise it
            if len(batch) > 1:
                for single in batch:
                    await self._write(key, [single])
                return
            results = [error]
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # the client went away
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _transaction(
        self, key: _Key, jobs: list[SaveJob]
    ) -> list[FlowResult | MinibaseError]:
        org_id, flow_id = key
        # The unit of work's principal only sets PostgreSQL's session settings (row-level
        # security is by org); each save records its own author and actor.
        async with self._store.tenant(org_id, jobs[0].principal, write=True) as uow:
            return await save_flows(uow, self._settings, flow_id, jobs)
