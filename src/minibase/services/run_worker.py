"""The run worker: claims queued runs, executes them, records every node durably.

One worker runs inside ``minibase serve`` on SQLite (and on PostgreSQL when asked to);
``minibase worker`` runs one on its own. Any number of workers share one database:

- a claim leases a run to one worker (``store/run_queue.py``); the worker renews the
  lease every third of its length, and a worker that dies lets it lapse, so another
  claims the run and resumes it: nodes recorded as finished are not run again;
- a worker with free slots claims as many runs as it has slots in one transaction;
- node results are recorded in batches (group commit): whatever finished while the
  previous batch was being written goes into the next transaction, each checking first
  that the worker still holds the lease; so no node's completion is recorded twice, and
  a worker that lost its lease stops. The writes of all the runs of one org that a
  worker executes share those transactions (``services/run_commits.py``): a run's
  begin, its node records and its finish (with its audit row) each join the org's next
  one, and a run's last node records go in with its finish;
- cancel requests and the run's time limit are checked while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select

from minibase.config import Settings
from minibase.domain.events import Event, EventBus, EventKind
from minibase.domain.principal import SYSTEM
from minibase.engine.executor import (
    FINAL,
    CachedResult,
    NodeResult,
    RunSpec,
    execute,
    finish_canceled,
)
from minibase.engine.plan import Plan, PlanError, PlanNode, build_plan
from minibase.engine.registry import NodeRegistry
from minibase.ids import new_id, now_ms
from minibase.logs import REQUEST_ID
from minibase.services.followers import notify_run_failed
from minibase.services.run_commits import LeaseLost, RunBatch, RunCommits
from minibase.services.runs import RUNS_KIND
from minibase.services.runs import finish_canceled as cancel_queued
from minibase.services.waiting import wait_event
from minibase.store import analytics_rollups, run_queue
from minibase.store.array_writes import BatchWrite, insert_rows, update_rows
from minibase.store.run_queue import Claim
from minibase.store.tables import JSONText, node_outputs, run_nodes, runs
from minibase.store.tables import run_queue as run_queue_table
from minibase.store.unit_of_work import (
    TENANT_PARAM,
    Store,
    TenantUnitOfWork,
    prepared,
    prepared_postgres,
    scoped_insert,
    scoped_select,
    scoped_update,
)

log = logging.getLogger("minibase.engine")

# The node records and run ends of a shared transaction: on PostgreSQL each one
# statement over arrays of the rows of all its runs (``store/array_writes.py``), on
# SQLite an executemany. A run has one job per transaction, so a (run, node) occurs
# once per statement; ``keys`` makes a repeat fall back to one row at a time all the same.
_OUTPUT_COLUMNS = (
    "id",
    "flow_id",
    "node_id",
    "output",
    "timestamp",
    "compute_time",
    "size_bytes",
    "run_id",
    "cached",
    "cache_key",
)
_INSERT_OUTPUT = BatchWrite(
    prepared(scoped_insert(node_outputs)), insert_rows(node_outputs, _OUTPUT_COLUMNS)
)
_NODE_KEY = {"b_run": "run_id", "b_node": "node_id"}
_MARK_RUNNING = BatchWrite(
    prepared(
        scoped_update(run_nodes)
        .where(
            run_nodes.c.run_id == bindparam("b_run"),
            run_nodes.c.node_id == bindparam("b_node"),
            run_nodes.c.status == "pending",
        )
        .values(status="running", started_at=bindparam("v_started"))
    ),
    update_rows(
        run_nodes,
        _NODE_KEY,
        {"started_at": "v_started"},
        fixed={"status": "'running'"},
        where="t.status = 'pending'",
    ),
    keys=("b_run", "b_node"),
)
_FINISH_VALUES = {
    "status": "v_status",
    "cached": "v_cached",
    "started_at": "v_started",
    "finished_at": "v_finished",
    "compute_time": "v_compute",
    "output_id": "v_output",
    "error": "v_error",
}
_FINISH_NODE = BatchWrite(
    prepared(
        scoped_update(run_nodes)
        .where(run_nodes.c.run_id == bindparam("b_run"), run_nodes.c.node_id == bindparam("b_node"))
        .values(
            {
                column: bindparam(param, type_=run_nodes.c[column].type)
                for column, param in _FINISH_VALUES.items()
            }
        )
    ),
    update_rows(run_nodes, _NODE_KEY, _FINISH_VALUES),
    keys=("b_run", "b_node"),
)
_LOOKUP = prepared(
    scoped_select(
        node_outputs, node_outputs.c.id, node_outputs.c.output, node_outputs.c.compute_time
    )
    .where(node_outputs.c.cache_key == bindparam("key"))
    .order_by(node_outputs.c.timestamp.desc())
    .limit(1)
)
_LOOKUP_IN_FLOW = prepared(
    scoped_select(
        node_outputs, node_outputs.c.id, node_outputs.c.output, node_outputs.c.compute_time
    )
    .where(
        node_outputs.c.cache_key == bindparam("key"),
        node_outputs.c.flow_id == bindparam("flow"),
    )
    .order_by(node_outputs.c.timestamp.desc())
    .limit(1)
)
PREFETCH_MIN_NODES = 16
"""A plan with fewer nodes looks its keys up one by one (a few lookups cost less than
reading ahead)."""
PREFETCH_ROW_BYTES = 8 * 1024
"""An output larger than this is not read ahead; its node's lookup reads it when asked."""
PREFETCH_BYTES = 4 * 1024 * 1024
"""At most this many bytes of the last run's outputs are read ahead for one run."""

_LAST_FINISHED_RUN = (
    scoped_select(runs, runs.c.id)
    .where(
        runs.c.flow_id == bindparam("flow"),
        runs.c.id != bindparam("run"),
        runs.c.finished_at.is_not(None),
    )
    .order_by(runs.c.created_at.desc())
    .limit(1)
    .scalar_subquery()
)
_KEYED_OUTPUTS = (
    scoped_select(
        node_outputs,
        node_outputs.c.cache_key,
        node_outputs.c.id,
        node_outputs.c.output,
        node_outputs.c.compute_time,
        func.sum(node_outputs.c.size_bytes).over(order_by=node_outputs.c.id).label("upto"),
    )
    .where(
        node_outputs.c.run_id == _LAST_FINISHED_RUN,
        node_outputs.c.cache_key.is_not(None),
        node_outputs.c.size_bytes <= PREFETCH_ROW_BYTES,
    )
    .subquery()
)
_PREFETCH = prepared(
    sa_select(
        _KEYED_OUTPUTS.c.cache_key,
        _KEYED_OUTPUTS.c.id,
        _KEYED_OUTPUTS.c.output,
        _KEYED_OUTPUTS.c.compute_time,
    ).where(_KEYED_OUTPUTS.c.upto <= PREFETCH_BYTES)
)
"""The keyed outputs of the flow's last finished run, up to :data:`PREFETCH_BYTES`: a
rerun of an unchanged flow finds each node's cached result among them, with no
transaction per lookup (a 1,000-node chain looks its keys up one after the other)."""

_BEGIN_FIRST = prepared(
    scoped_update(runs)
    .where(
        runs.c.id == bindparam("b_run"),
        runs.c.status == "queued",
        runs.c.cancel_requested.is_(False),
    )
    .values(status="running", started_at=bindparam("v_started"), attempts=1)
    .returning(*runs.c)
)
"""A run's first attempt begins in one statement (nothing to recover, no cancel yet)."""
_FINISH_RUN = BatchWrite(
    prepared(
        scoped_update(runs)
        .where(runs.c.id == bindparam("b_run"))
        .values(
            status=bindparam("v_status"),
            finished_at=bindparam("v_finished"),
            error=bindparam("v_error", type_=JSONText),
            compute_ms=runs.c.compute_ms + bindparam("v_compute"),
        )
    ),
    update_rows(
        runs,
        {"b_run": "id"},
        {
            "status": "v_status",
            "finished_at": "v_finished",
            "error": "v_error",
            "compute_ms": "v_compute",
        },
        merge={"compute_ms": "{old} + {new}"},
    ),
    keys=("b_run",),
)
_RELEASE = BatchWrite(
    prepared(
        run_queue_table.delete().where(
            run_queue_table.c.run_id == bindparam("b_run"),
            run_queue_table.c.owner_org == bindparam(TENANT_PARAM),
        )
    ),
    prepared_postgres(
        "DELETE FROM run_queue WHERE owner_org = $1::text AND run_id = ANY($2::text[])",
        ["b_run"],
        arrays=True,
    ),
)

STEP_RUNNING, STEP_OUTPUTS, STEP_NODES, STEP_RUNS, STEP_RELEASE, STEP_ANALYTICS = range(6)
"""The order in which a shared transaction writes the rows its runs deferred."""

BATCH_SECONDS = 0.01
"""How long a batch of node records waits for more before it is written."""


def worker_name() -> str:
    return f"wkr_{socket.gethostname()[:20]}_{os.getpid()}_{new_id('x')[2:10]}"


class Recorder:
    """Collects node starts and results; :meth:`flush_loop` writes them in batches."""

    def __init__(
        self,
        store: Store,
        commits: RunCommits,
        claim: Claim,
        flow_id: str,
        plan: Plan,
        created_at: int,
    ) -> None:
        self.store = store
        self.commits = commits
        self.claim = claim
        self.flow_id = flow_id
        self.plan = plan
        self.created_at = created_at
        """The run's creation: the analytics count its nodes on that day."""
        self._started: dict[str, int] = {}
        self._finished: dict[str, NodeResult] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self.compute_ms = 0.0
        self._lookups: dict[tuple[str, bool], list[asyncio.Future[CachedResult | None]]] = {}
        self._looking_up: asyncio.Task[None] | None = None
        self._prefetched: dict[str, tuple[bytes, float]] | None = (
            None if len(plan.nodes) >= PREFETCH_MIN_NODES else {}
        )
        """Outputs read ahead by cache key (see :data:`_PREFETCH`); ``None``: not read yet."""

    async def lookup(self, node: PlanNode, key: str) -> CachedResult | None:
        """The newest stored output with ``key`` (in the flow, or the org's when the node
        shares across it), or ``None``.

        The lookups of nodes that become ready together (a fan-out's branches) are read
        in one transaction, each key once: one transaction per node made a 1,000-node
        fan-out wait on the pool for a thousand of them. The first lookup of a large plan
        also reads the keyed outputs of the flow's last finished run; a key found among
        them needs no transaction (a rerun of an unchanged chain)."""
        if self._prefetched is not None and key in self._prefetched:
            output, compute_time = self._prefetched[key]
            return CachedResult(orjson.loads(output), output, compute_time)
        future: asyncio.Future[CachedResult | None] = asyncio.get_running_loop().create_future()
        scope = (key, bool(node.processing.shareAcrossOrganization))
        self._lookups.setdefault(scope, []).append(future)
        if self._looking_up is None or self._looking_up.done():
            self._looking_up = asyncio.create_task(self._look_up_pending())
        return await future

    async def _look_up_pending(self) -> None:
        await asyncio.sleep(0)  # the other nodes made ready by the same result queue theirs
        while self._lookups:
            pending, self._lookups = self._lookups, {}
            try:
                async with self.store.tenant(self.claim.org_id, SYSTEM) as uow:
                    if self._prefetched is None:
                        self._prefetched = await self._prefetch(uow)
                    for (key, shared), futures in pending.items():
                        found = self._prefetched.get(key)
                        if found is None:
                            found = await _find(uow, key, None if shared else self.flow_id)
                        for future in futures:
                            if future.done():  # its node was canceled
                                continue
                            # Each node its own parsed copy: a node may change its inputs.
                            future.set_result(
                                None
                                if found is None
                                else CachedResult(orjson.loads(found[0]), found[0], found[1])
                            )
            except Exception as exc:  # noqa: BLE001 - handed to every waiting node as raised
                for futures in pending.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)

    async def _prefetch(self, uow: TenantUnitOfWork) -> dict[str, tuple[bytes, float]]:
        """The keyed outputs of the flow's last finished run, opened, by cache key."""
        sealer = await uow.sealer()
        params = {"flow": self.flow_id, "run": self.claim.run_id}
        return {
            row.cache_key: (
                sealer.open(node_outputs.c.output, row.id, bytes(row.output)),
                row.compute_time,
            )
            for row in (await uow.execute(_PREFETCH, params)).all()
        }

    def started(self, node_id: str, at: int) -> None:
        self._started[node_id] = at
        self._wake.set()

    def finished(self, result: NodeResult) -> None:
        self._finished[result.node_id] = result
        if result.status == "succeeded" and not result.cached:
            self.compute_ms += result.compute_time
        self._wake.set()

    async def flush_loop(self) -> None:
        """Write batches until :meth:`close`; never cancelled mid-batch by the run.

        After the first change of a batch it waits :data:`BATCH_SECONDS` for more (a
        chain of quick nodes then costs one transaction per few dozen nodes, not one
        each); node results are durable that much later at most."""
        while not self._closing:
            await self._wake.wait()
            if not self._closing:
                await wait_event(self._closed, BATCH_SECONDS)
            if self._closing:
                break  # what is left goes in with the run's finish
            self._wake.clear()
            await self.flush()

    async def close(self, loop: asyncio.Task[None]) -> None:
        """Stop :meth:`flush_loop` after its batch; :meth:`write_rest` writes the rest."""
        self._closing = True
        self._closed.set()
        self._wake.set()
        await loop

    async def settle(self) -> None:
        """Wait for the cache lookups still being read (they never raise), so that no
        task of the run outlives it."""
        if self._looking_up is not None:
            await self._looking_up

    async def flush(self) -> None:
        """Write everything collected so far, in the org's next transaction."""
        started, self._started = self._started, {}
        finished, self._finished = self._finished, {}
        if not started and not finished:
            return

        async def write(batch: RunBatch) -> None:
            await self.write(batch, started, finished)

        await self.commits.write(self.claim.org_id, self.claim.run_id, write)

    def take_rest(self) -> tuple[dict[str, int], dict[str, NodeResult]]:
        """What :meth:`flush_loop` left (for :meth:`write` in the run's finish)."""
        started, self._started = self._started, {}
        finished, self._finished = self._finished, {}
        return started, finished

    async def write(
        self, batch: RunBatch, started: Mapping[str, int], finished: Mapping[str, NodeResult]
    ) -> None:
        """Record node starts and results in ``batch``: as rows its transaction writes
        with those of the other runs (one statement each), or at once when a node keeps
        only its newest output (the order of the rows of one node then matters)."""
        if not started and not finished:
            return
        run_id, uow = self.claim.run_id, batch.uow
        now = now_ms()
        running = [
            {"b_run": run_id, "b_node": node_id, "v_started": at}
            for node_id, at in started.items()
            if node_id not in finished
        ]
        outputs: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        unversioned: list[tuple[str, str]] = []
        for result in finished.values():
            output_id = None
            node = self.plan.nodes.get(result.node_id)
            if (
                result.status == "succeeded"
                and node is not None
                and node.processing.persistOutput
                and result.output_bytes is not None
            ):
                output_id = new_id("out")
                outputs.append(
                    {
                        "id": output_id,
                        "flow_id": self.flow_id,
                        "node_id": result.node_id,
                        "output": result.output_bytes,
                        "timestamp": result.finished_at or now,
                        "compute_time": result.compute_time,
                        "size_bytes": len(result.output_bytes),
                        "run_id": run_id,
                        "cached": result.cached,
                        "cache_key": result.cache_key,
                        "output_at": result.finished_at or now,
                    }
                )
                if not node.processing.enableVersioning:
                    unversioned.append((result.node_id, output_id))
            updates.append(
                {
                    "cache_key": result.cache_key,
                    "output_at": result.finished_at or now,
                    "b_run": run_id,
                    "b_node": result.node_id,
                    "v_status": result.status,
                    "v_cached": result.cached,
                    "v_started": result.started_at,
                    "v_finished": result.finished_at,
                    "v_compute": result.compute_time if result.started_at else None,
                    "v_output": output_id,
                    "v_error": result.error,
                }
            )
        if outputs:  # encryption at rest: each output sealed, bound to its row
            sealer = await uow.sealer()
            outputs = [sealer.seal_values(node_outputs, row) for row in outputs]
        storage = sum(row["size_bytes"] for row in outputs)
        analytics_outputs = [
            (row["flow_id"], row["timestamp"], row["size_bytes"]) for row in outputs
        ]
        if unversioned:
            # Rows of other runs first: an older output of the node may be among them.
            await batch.write_deferred()
            await _INSERT_OUTPUT.write(uow, outputs)
            for node_id, keep in unversioned:
                storage -= await _drop_older_outputs(uow, self.flow_id, node_id, keep)
            outputs = []
        batch.defer(STEP_RUNNING, _MARK_RUNNING, running)
        batch.defer(STEP_OUTPUTS, _INSERT_OUTPUT, outputs)
        batch.defer(STEP_NODES, _FINISH_NODE, updates)
        batch.add_storage(storage)
        done = [_done(self.plan, u) for u in updates]

        for statement, rows in (
            *analytics_rollups.nodes_finished(uow, self.flow_id, self.created_at, done),
            *analytics_rollups.outputs_written(uow, analytics_outputs),
        ):
            batch.defer(STEP_ANALYTICS, statement, rows)
        uow.emit(Event(uow.org_id, RUNS_KIND, (self.flow_id, run_id)))
        if outputs or unversioned:
            uow.emit(Event(uow.org_id, EventKind.OUTPUTS, (self.flow_id,)))
            uow.emit(Event(uow.org_id, EventKind.USAGE))


async def _find(uow: TenantUnitOfWork, key: str, flow_id: str | None) -> tuple[bytes, float] | None:
    """The newest stored output with cache ``key`` (in ``flow_id``, or anywhere in the
    org), opened, with its compute time."""
    if flow_id is None:
        row = (await uow.execute(_LOOKUP, {"key": key})).first()
    else:
        row = (await uow.execute(_LOOKUP_IN_FLOW, {"key": key, "flow": flow_id})).first()
    if row is None:
        return None
    sealer = await uow.sealer()
    return sealer.open(node_outputs.c.output, row.id, bytes(row.output)), row.compute_time


def _done(plan: Plan, update: Mapping[str, Any]) -> analytics_rollups.NodeDone:
    """A node record as the analytics count it (from its ``_FINISH_NODE`` parameters)."""
    node = plan.nodes.get(update["b_node"])
    timed = update["v_compute"] is not None and not update["v_cached"]
    return analytics_rollups.NodeDone(
        node_id=update["b_node"],
        type=node.node_type.type if node is not None else "",
        failed=update["v_status"] == "failed",
        compute_ms=update["v_compute"] if timed else None,
        output_id=update["v_output"],
        output_at=update["output_at"],
        cache_key=update["cache_key"] if update["v_output"] is not None else None,
    )


async def _drop_older_outputs(uow: TenantUnitOfWork, flow_id: str, node_id: str, keep: str) -> int:
    """Delete a node's earlier outputs (``enableVersioning: false``); their bytes."""
    no = node_outputs.c
    where = (no.flow_id == flow_id, no.node_id == node_id, no.id != keep)
    rows = (await uow.execute(uow.select(node_outputs, no.size_bytes).where(*where))).all()
    if rows:
        await uow.execute(uow.delete(node_outputs).where(*where))
    return sum(int(r.size_bytes) for r in rows)


class RunWorker:
    """Claims and executes runs, up to ``settings.worker_concurrency`` at once."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        registry: NodeRegistry,
        *,
        bus: EventBus | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.registry = registry
        self.worker_id = worker_id or worker_name()
        self.lease_ms = int(settings.run_lease_seconds * 1000)
        self._bus = bus
        self._unsubscribe: Any = None
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._slot_freed = asyncio.Event()
        self._stopping = False
        self.commits = RunCommits(store, self.worker_id)

    async def start(self) -> None:
        if self._bus is not None:
            self._unsubscribe = self._bus.subscribe(self._on_event)
        self._loop_task = asyncio.create_task(self._loop(), name=f"run-worker-{self.worker_id}")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        # A cancel that lands inside a database call can come out as the driver's error,
        # which the loop survives: the flag ends it all the same.
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.commits.close()
        # Hand what this worker held back to the queue at once (not after the lease).
        with contextlib.suppress(Exception):
            async with self.store.global_(SYSTEM, write=True) as uow:
                await run_queue.give_back(uow, self.worker_id)

    async def _on_event(self, event: Event) -> None:
        if event.kind == RUNS_KIND and event.extra.get("queued"):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            free = self.settings.worker_concurrency - len(self._running)
            if free <= 0:
                await self._slot_freed.wait()
                self._slot_freed.clear()
                continue
            try:
                claims = await self._claim(free)
            except Exception:
                if self._stopping:
                    # Closing: the cancel that stops a claim inside a database call can
                    # come out as the driver's error ("connection is closed"), not a failure.
                    break
                log.warning("claiming a run failed", exc_info=True)
                claims = []
            for claim in claims:
                task = asyncio.create_task(self._execute(claim), name=f"run-{claim.run_id}")
                self._running.add(task)
                task.add_done_callback(self._done)
            if not claims:
                await wait_event(self._wake, self.settings.run_poll_seconds)
                self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slot_freed.set()
        # A run that ended may let a queued one of its org start (its concurrency limit).
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("run task crashed", exc_info=task.exception())

    async def _claim(self, limit: int) -> list[Claim]:
        async with self.store.global_(SYSTEM, write=True) as uow:
            return await run_queue.claim_many(
                uow, self.worker_id, now=now_ms(), lease_ms=self.lease_ms, limit=limit
            )

    async def run_one(self) -> bool:
        """Claim and execute one run to its end (for tests and tools); ``False``: none."""
        claims = await self._claim(1)
        if not claims:
            return False
        await self._execute(claims[0])
        return True

    async def _execute(self, claim: Claim) -> None:
        # The run's lines carry the id of the request that queued it (set once it is read).
        token = REQUEST_ID.set(None)
        try:
            await RunExecution(self, claim).run()
        except LeaseLost:
            log.warning("run %s: lease lost; another worker continues it", claim.run_id)
        finally:
            REQUEST_ID.reset(token)


class RunExecution:
    """One attempt at one claimed run."""

    def __init__(self, worker: RunWorker, claim: Claim) -> None:
        self.worker = worker
        self.store = worker.store
        self.settings = worker.settings
        self.claim = claim
        self.cancel_requested = False
        self.times: tuple[int, int | None] = (0, None)
        """The run's creation and start (ms), once begun: where its analytics count."""

    async def run(self) -> None:
        loaded = await self._begin()
        if loaded is None:
            return
        row, done = loaded
        self.times = (row.created_at, row.started_at)
        spec_json = orjson.loads(row.spec)
        REQUEST_ID.set(spec_json.get("requestId"))
        log.info(
            "run started",
            extra={"run_id": row.id, "org_id": self.claim.org_id, "attempt": self.claim.attempts},
        )
        try:
            plan = build_plan(spec_json["nodes"], spec_json["edges"], self.worker.registry)
        except PlanError as exc:
            await self._finish(
                row.flow_id,
                "failed",
                {"code": "invalid_flow", "message": str(exc)[:2000]},
                0.0,
                None,
            )
            return
        spec = RunSpec(
            run_id=row.id,
            flow_id=row.flow_id,
            organization_id=self.claim.org_id,
            inputs=spec_json.get("inputs") or {},
            payload=spec_json.get("payload"),
            force=bool(spec_json.get("force")),
            node_timeout=self.settings.run_node_timeout_seconds,
            allow_private_addresses=self.settings.webhook_allow_private,
            max_output_bytes=self.settings.run_max_output_bytes,
            skip_strategies=frozenset(() if row.trigger_type == "schedule" else ("scheduled",)),
        )
        limit = min(
            spec_json.get("timeoutSeconds") or self.settings.run_time_limit_seconds,
            self.settings.run_time_limit_seconds,
        )
        remaining = limit - max(0, now_ms() - (row.started_at or now_ms())) / 1000
        recorder = Recorder(
            self.store, self.worker.commits, self.claim, row.flow_id, plan, row.created_at
        )
        flusher = asyncio.create_task(recorder.flush_loop())
        watcher = asyncio.create_task(self._watch())
        runner = asyncio.create_task(
            self._run_plan(plan, spec, recorder, done, max(remaining, 0.001))
        )
        tasks = (runner, flusher, watcher)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for helper in (flusher, watcher):
                failure = helper.exception() if helper.done() else None
                if failure is not None:
                    raise failure  # LeaseLost, or the database is away: the lease will lapse
            if not runner.done():  # a cancel request
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            status = "canceled" if runner.cancelled() else runner.result()
            if status in ("canceled", "timed_out"):
                finish_canceled(plan, spec, recorder, code=status)
            await recorder.close(flusher)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await recorder.settle()
        error = _run_error(status, plan, spec, limit)
        await self._finish(row.flow_id, status, error, recorder.compute_ms, recorder)
        log.info(
            "run finished",
            extra={
                "run_id": row.id,
                "org_id": self.claim.org_id,
                "status": status,
                "compute_ms": round(recorder.compute_ms, 3),
            },
        )

    async def _run_plan(
        self,
        plan: Plan,
        spec: RunSpec,
        recorder: Recorder,
        done: dict[str, NodeResult],
        limit: float,
    ) -> str:
        try:
            async with asyncio.timeout(limit):
                results = await execute(plan, spec, recorder, done=done)
        except TimeoutError:
            return "timed_out"
        if any(r.status == "failed" for r in results.values()):
            return "failed"
        return "succeeded"

    async def _watch(self) -> None:
        """Renew the lease and look for a cancel request, every third of the lease."""
        interval = self.worker.lease_ms / 3000
        while True:
            await asyncio.sleep(interval)
            async with self.store.tenant(self.claim.org_id, SYSTEM, write=True) as uow:
                held = await run_queue.extend(
                    uow,
                    self.claim.run_id,
                    self.worker.worker_id,
                    now=now_ms(),
                    lease_ms=self.worker.lease_ms,
                )
                if not held:
                    raise LeaseLost(self.claim.run_id)
                cancel = (
                    await uow.execute(
                        uow.select(runs, runs.c.cancel_requested).where(
                            runs.c.id == self.claim.run_id
                        )
                    )
                ).scalar_one_or_none()
            if cancel:
                return

    async def _begin(self) -> tuple[Any, dict[str, NodeResult]] | None:
        """Mark the run running; what earlier attempts finished. ``None``: nothing to do."""
        return await self.worker.commits.write(self.claim.org_id, self.claim.run_id, self._begin_in)

    async def _begin_in(self, batch: RunBatch) -> tuple[Any, dict[str, NodeResult]] | None:
        claim, uow = self.claim, batch.uow
        if claim.attempts == 1:
            # No earlier attempt: nothing to recover; one statement when still queued.
            first = (
                await uow.execute(_BEGIN_FIRST, {"b_run": claim.run_id, "v_started": now_ms()})
            ).first()
            if first is not None:
                uow.emit(Event(uow.org_id, RUNS_KIND, (first.flow_id, first.id)))
                return (await uow.sealer()).open_row(runs, first), {}
        row = (await uow.execute(uow.select(runs).where(runs.c.id == claim.run_id))).first()
        if row is None or row.status not in ("queued", "running"):
            await run_queue.release(uow, claim.run_id)
            return None
        now = now_ms()
        if row.cancel_requested:
            await cancel_queued(uow, row.id, now)
            await run_queue.release(uow, claim.run_id)
            uow.emit(Event(uow.org_id, RUNS_KIND, (row.flow_id, row.id)))
            return None
        started = row.started_at or now
        await uow.execute(
            uow.update(runs)
            .where(runs.c.id == row.id)
            .values(status="running", started_at=started, attempts=claim.attempts)
        )
        done = await _recover(uow, row.id)
        # Nodes that were running when an earlier attempt died start again.
        await uow.execute(
            uow.update(run_nodes)
            .where(run_nodes.c.run_id == row.id, run_nodes.c.status == "running")
            .values(status="pending", started_at=None)
        )
        uow.emit(Event(uow.org_id, RUNS_KIND, (row.flow_id, row.id)))
        row = (await uow.execute(uow.select(runs).where(runs.c.id == claim.run_id))).first()
        return (await uow.sealer()).open_row(runs, row), done

    async def _finish(
        self,
        flow_id: str,
        status: str,
        error: dict[str, Any] | None,
        compute_ms: float,
        recorder: Recorder | None,
    ) -> None:
        """End the run, in the org's next transaction: the node records not yet written,
        the run's status, its queue row, its audit row."""
        run_id = self.claim.run_id
        rest = recorder.take_rest() if recorder is not None else ({}, {})

        async def finish(batch: RunBatch) -> None:
            uow = batch.uow
            if recorder is not None:
                await recorder.write(batch, *rest)
            finished_at = now_ms()
            finished = {
                "b_run": run_id,
                "v_status": status,
                "v_finished": finished_at,
                "v_error": error,
                "v_compute": compute_ms,
            }
            batch.defer(STEP_RUNS, _FINISH_RUN, [finished])
            batch.defer(STEP_RELEASE, _RELEASE, [{"b_run": run_id}])
            created, started = self.times

            for statement, rows in analytics_rollups.run_finished(
                uow, flow_id, created, status, started, finished_at
            ):
                batch.defer(STEP_ANALYTICS, statement, rows)
            if status in ("failed", "timed_out"):
                await notify_run_failed(uow, flow_id, run_id, error)
            batch.audit(
                f"run.{status}",
                "run",
                run_id,
                {"flowId": flow_id, "computeTime": round(compute_ms, 3)},
            )
            uow.emit(Event(uow.org_id, RUNS_KIND, (flow_id, run_id), extra={"status": status}))

        await self.worker.commits.write(self.claim.org_id, run_id, finish)


async def _recover(uow: TenantUnitOfWork, run_id: str) -> dict[str, NodeResult]:
    """Results recorded by earlier attempts (succeeded nodes whose output is stored)."""
    rows = (
        await uow.execute(
            uow.select(run_nodes).where(
                run_nodes.c.run_id == run_id, run_nodes.c.status.in_(tuple(FINAL))
            )
        )
    ).all()
    output_ids = [r.output_id for r in rows if r.output_id]
    outputs: dict[str, bytes] = {}
    if output_ids:
        found = await uow.execute(
            uow.select(node_outputs, node_outputs.c.id, node_outputs.c.output).where(
                node_outputs.c.id.in_(output_ids)
            )
        )
        sealer = await uow.sealer()
        outputs = {r.id: sealer.open(node_outputs.c.output, r.id, bytes(r.output)) for r in found}
    done: dict[str, NodeResult] = {}
    lost: list[str] = []
    for r in rows:
        if r.status == "succeeded" and r.output_id not in outputs:
            lost.append(r.node_id)  # its output was not kept: run it again
            continue
        data = outputs.get(r.output_id) if r.output_id else None
        done[r.node_id] = NodeResult(
            r.node_id,
            r.status,
            outputs=orjson.loads(data) if data is not None else None,
            cached=bool(r.cached),
            started_at=r.started_at,
            finished_at=r.finished_at,
            compute_time=r.compute_time or 0.0,
            error=r.error,
            output_bytes=data,
        )
    if lost:
        await uow.execute(
            uow.update(run_nodes)
            .where(run_nodes.c.run_id == run_id, run_nodes.c.node_id.in_(lost))
            .values(status="pending", output_id=None)
        )
    return done


def _run_error(status: str, plan: Plan, spec: RunSpec, limit: float) -> dict[str, Any] | None:
    if status == "succeeded":
        return None
    if status == "timed_out":
        return {"code": "timed_out", "message": f"The run passed its time limit of {limit} s."}
    if status == "canceled":
        return {"code": "canceled", "message": "The run was canceled."}
    for node_id in plan.nodes:
        result = spec.results.get(node_id)
        if result is not None and result.status == "failed" and result.error:
            return {
                "code": str(result.error.get("code", "node_failed")),
                "message": f"Node {node_id} failed: {result.error.get('message', '')}",
                "nodeId": node_id,
            }
    return {"code": "failed", "message": "The run failed."}


__all__ = ["LeaseLost", "RunWorker"]
