"""Group commit for run workers: the writes of every run of one org, one transaction.

Writers of one organization are serialized (its audit chain and usage counters need it:
on PostgreSQL each write transaction takes the org's row lock), so a worker executing
many small runs of one org at once would pay for each run's begin, node records and
finish in a transaction of its own, one after the other. Instead, each write is a job
queued per org; one task per org drains the queue, writing every job that arrived while
the previous transaction ran in the next one: one lease check for all of their runs
(``run_queue.held``), each job in arrival order, one statement for their audit rows, one
commit. Each run's writes keep their order (a run waits for one before queuing the
next), and each job still commits only while its worker holds its run's lease: a job
whose run was taken over gets :class:`LeaseLost` and writes nothing.

Should a batch's transaction fail as a whole (a database error), its jobs are retried
one per transaction, so one run's failure is never another's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from minibase.domain.principal import SYSTEM
from minibase.logs import detached
from minibase.services import audit
from minibase.services.usage import add_to_counters
from minibase.store import run_queue
from minibase.store.array_writes import BatchWrite
from minibase.store.compiled import PostgresPrepared, Prepared
from minibase.store.unit_of_work import Store, TenantUnitOfWork

T = TypeVar("T")

Deferrable = Prepared | PostgresPrepared | BatchWrite
"""A statement whose rows a :class:`RunBatch` writes at the end of its transaction."""

MAX_BATCH = 64
"""Jobs written by one transaction at most (bounds how long one holds the org's lock)."""


class LeaseLost(Exception):
    """Another worker took the run over: this one must record nothing more."""


@dataclass(slots=True)
class RunBatch:
    """What a job writes with: the transaction, and the rows it defers to the end of it
    (each statement once for the rows of every job, steps in order) and the audit rows
    it adds (one statement, chained in job order)."""

    uow: TenantUnitOfWork
    _audit: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    _deferred: dict[tuple[int, int], tuple[Deferrable, list[Mapping[str, Any]]]] = field(
        default_factory=dict
    )
    _storage: int = 0

    def defer(
        self,
        step: int,
        statement: Deferrable,
        rows: Sequence[Mapping[str, Any]],
    ) -> None:
        """Run ``statement`` for ``rows`` at the end of the transaction, with the rows
        other jobs deferred to it (in one call: an ``executemany``, or one statement over
        arrays of them, as a :class:`BatchWrite` chooses), after the statements of lower
        ``step``s."""
        if rows:
            key = (step, id(statement))
            entry = self._deferred.get(key)
            if entry is None:
                entry = self._deferred[key] = (statement, [])
            entry[1].extend(rows)

    def add_storage(self, size: int) -> None:
        """Add ``size`` bytes to the org's storage counter (once per transaction)."""
        self._storage += size

    async def write_deferred(self) -> None:
        """Write the rows deferred so far (before a job writes something that depends
        on them)."""
        deferred, self._deferred = self._deferred, {}
        for key in sorted(deferred):  # by step, then in a fixed order within one
            statement, rows = deferred[key]
            if isinstance(statement, BatchWrite):
                await statement.write(self.uow, rows)
            else:
                await self.uow.execute(statement, rows)
        if self._storage:
            await add_to_counters(self.uow, storage=self._storage)
            self._storage = 0

    def audit(
        self, action: str, resource_type: str, resource_id: str, details: dict[str, Any]
    ) -> None:
        """Add an audit row (by the system) to the transaction."""
        self._audit.append((action, resource_type, resource_id, details))

    async def write_audit(self) -> None:
        if not self._audit:
            return
        head = await audit.chain_head(self.uow)
        rows = []
        for action, resource_type, resource_id, details in self._audit:
            row = audit.chained_event(
                head,
                self.uow.org_id,
                self.uow.principal,
                action,
                resource_type,
                resource_id,
                details=details,
            )
            head = audit.ChainHead(row["seq"], row["hash"])
            rows.append(row)
        await audit.insert_events(self.uow, rows)


@dataclass(slots=True)
class _Job(Generic[T]):
    run_id: str
    write: Callable[[RunBatch], Awaitable[T]]
    future: asyncio.Future[T]
    check_lease: bool


class RunCommits:
    """Per-org queues of run writes of one worker, each drained by one task while it has
    work."""

    def __init__(self, store: Store, worker_id: str) -> None:
        self._store = store
        self._worker_id = worker_id
        self._queues: dict[str, deque[_Job[Any]]] = {}
        self._drainers: set[asyncio.Task[None]] = set()

    async def write(
        self,
        org_id: str,
        run_id: str,
        job: Callable[[RunBatch], Awaitable[T]],
        *,
        check_lease: bool = True,
    ) -> T:
        """Run ``job`` in a write transaction of ``org_id`` (shared with other runs'
        jobs) and return its result once committed; :class:`LeaseLost` (and nothing
        written) when ``check_lease`` and the worker no longer holds ``run_id``."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(org_id)
        if queue is None:
            queue = self._queues[org_id] = deque()
            # Its own task: a run being cancelled cannot cancel other runs' writes.
            task = asyncio.create_task(
                self._drain(org_id, queue), name=f"run writes {org_id}", context=detached()
            )
            self._drainers.add(task)
            task.add_done_callback(self._drainers.discard)
        queue.append(_Job(run_id, job, future, check_lease))
        return await future

    async def close(self) -> None:
        """Stop writing (a transaction in flight rolls back); queued jobs are cancelled."""
        for task in list(self._drainers):
            task.cancel()
        await asyncio.gather(*self._drainers, return_exceptions=True)

    async def _drain(self, org_id: str, queue: deque[_Job[Any]]) -> None:
        batch: list[_Job[Any]] = []
        try:
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), MAX_BATCH))]
                batch = [job for job in batch if not job.future.done()]
                if batch:
                    await self._write(org_id, batch)
        finally:
            del self._queues[org_id]
            for job in (*batch, *queue):  # only when cancelled (shutdown)
                job.future.cancel()

    async def _write(self, org_id: str, batch: list[_Job[Any]]) -> None:
        try:
            results = await self._transaction(org_id, batch)
        except Exception as error:  # noqa: BLE001 - handed to the runs, which raise it
            if len(batch) > 1:
                for single in batch:
                    await self._write(org_id, [single])
                return
            results = [error]
        for job, result in zip(batch, results, strict=True):
            if job.future.done():
                continue
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)

    async def _transaction(self, org_id: str, batch: list[_Job[Any]]) -> list[Any]:
        results: list[Any] = []
        async with self._store.tenant(org_id, SYSTEM, write=True) as uow:
            checked = {job.run_id for job in batch if job.check_lease}
            held = await run_queue.held(uow, checked, self._worker_id)
            writing = RunBatch(uow)
            for job in batch:
                if job.check_lease and job.run_id not in held:
                    results.append(LeaseLost(job.run_id))
                else:
                    results.append(await job.write(writing))
            await writing.write_deferred()
            await writing.write_audit()
        return results


__all__ = ["LeaseLost", "RunBatch", "RunCommits"]
