"""A hand-computed fixture for analytics and metering: one flow a → b → c, ten runs.

* a: 100, 200, ..., 1000 ms → p50 500, p95 1000, max 1000.
* b: 4000 ms every run; inputs (cache key) ``k1`` in 9 runs, ``k2`` in 1 → 80 % repeats.
* c: 10 ms; the last three runs fail at c.
* run i (0-based) lasts 1000 * (i + 1) ms → p95 10000; runs 7, 8, 9 failed.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from minibase.domain.principal import SYSTEM
from minibase.store import analytics_rollups
from minibase.store.tables import node_outputs, run_nodes, runs
from minibase.store.unit_of_work import Store

RUNS = 10
A_TIMES = [100.0 * (i + 1) for i in range(RUNS)]
B_TIME = 4000.0
C_TIME = 10.0
FAILED = {7, 8, 9}


@dataclass
class Fixture:
    flow_id: str
    run_ids: list[str]
    start: int


async def insert_runs(
    store: Store, org_id: str, flow_id: str, user_id: str, start: int, *, rollups: bool = True
) -> Fixture:
    """The fixture's rows; with ``rollups``, the analytics rollups rebuilt from them (as the
    migration's backfill does: the rows are written finished, not through the engine)."""
    run_ids = []
    async with store.tenant(org_id, SYSTEM, write=True) as uow:
        for i in range(RUNS):
            run_id = f"run_fixture{i:02d}"
            run_ids.append(run_id)
            created = start + i * 60_000
            failed = i in FAILED
            await uow.execute(
                uow.insert(
                    runs,
                    id=run_id,
                    flow_id=flow_id,
                    flow_version=1,
                    status="failed" if failed else "succeeded",
                    trigger_type="manual",
                    trigger_id=None,
                    dedupe_key=None,
                    created_by=user_id,
                    created_at=created,
                    started_at=created,
                    finished_at=created + 1000 * (i + 1),
                    error=None,
                    spec=b"{}",
                    cancel_requested=False,
                    attempts=1,
                    compute_ms=A_TIMES[i] + B_TIME + C_TIME,
                )
            )
            for position, (node, time, key) in enumerate(
                (
                    ("a", A_TIMES[i], f"a{i}"),
                    ("b", B_TIME, "k2" if i == 0 else "k1"),
                    ("c", C_TIME, f"c{i}"),
                )
            ):
                status = "failed" if failed and node == "c" else "succeeded"
                output_id = f"out_fixture{i:02d}{node}"
                await uow.execute(
                    uow.insert(
                        run_nodes,
                        run_id=run_id,
                        node_id=node,
                        position=position,
                        type=f"type_{node}",
                        status=status,
                        cached=False,
                        started_at=created,
                        finished_at=created + int(time),
                        compute_time=time,
                        output_id=output_id,
                        error=None,
                    )
                )
                data = orjson.dumps({"v": i})
                await uow.execute(
                    uow.insert(
                        node_outputs,
                        id=output_id,
                        flow_id=flow_id,
                        node_id=node,
                        output=data,
                        timestamp=created,
                        compute_time=time,
                        size_bytes=len(data),
                        run_id=run_id,
                        cached=False,
                        cache_key=key,
                    )
                )
        if rollups:
            await analytics_rollups.rebuild(uow)
    return Fixture(flow_id, run_ids, start)
