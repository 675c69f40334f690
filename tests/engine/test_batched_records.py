"""The node records and run ends of several runs written by one shared transaction (one
statement per table on PostgreSQL, over arrays of the rows; an executemany on SQLite)
land on the right rows, value for value (both databases)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from minibase.config import Settings
from minibase.domain.principal import SYSTEM
from minibase.services import run_worker
from minibase.services.run_commits import RunBatch
from minibase.store.tables import node_outputs, run_nodes, run_queue, runs
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import start
from tests.flows_helpers import new_org


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_in_server": "never"})  # the runs stay queued


def _finish(run: str, node: str, status: str, **values: Any) -> dict[str, Any]:
    return {
        "b_run": run,
        "b_node": node,
        "v_status": status,
        "v_cached": values.get("cached", False),
        "v_started": values.get("started"),
        "v_finished": values.get("finished"),
        "v_compute": values.get("compute"),
        "v_output": values.get("output"),
        "v_error": values.get("error"),
    }


def _output(run: str, flow: str, node: str, output_id: str, data: bytes) -> dict[str, Any]:
    return {
        "id": output_id,
        "flow_id": flow,
        "node_id": node,
        "output": data,
        "timestamp": 1_000,
        "compute_time": 0.25,
        "size_bytes": len(data),
        "run_id": run,
        "cached": node == "b",
        "cache_key": None if node == "b" else "k" * 64,
    }


async def test_the_rows_of_several_runs_in_one_transaction(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[n("a", "constant", value=1), n("b", "math", expression="value")],
        edges=[e("a", "b")],
    )
    first, second = [(await start(org, flow["id"]))["id"] for _ in range(2)]
    failed = {"code": "node_error", "message": 'ä "quoted" \n', "nested": [1, None]}
    store = app.state.ctx.store
    async with store.tenant(org.id, SYSTEM, write=True) as uow:
        batch = RunBatch(uow)
        # The first run: a started, b running; the second: a done, b failed. Each its
        # own job's rows, deferred to the same statements in this one transaction.
        batch.defer(
            run_worker.STEP_RUNNING,
            run_worker._MARK_RUNNING,
            [
                {"b_run": first, "b_node": "a", "v_started": 10},
                {"b_run": first, "b_node": "b", "v_started": 11},
            ],
        )
        batch.defer(
            run_worker.STEP_OUTPUTS,
            run_worker._INSERT_OUTPUT,
            [_output(second, flow["id"], "a", "out_s_a", b'{"value": 1}')],
        )
        batch.defer(
            run_worker.STEP_OUTPUTS,
            run_worker._INSERT_OUTPUT,
            [_output(first, flow["id"], "b", "out_f_b", b"\x00\xff")],
        )
        batch.defer(
            run_worker.STEP_NODES,
            run_worker._FINISH_NODE,
            [
                _finish(
                    second, "a", "succeeded", started=20, finished=21, compute=0.5, output="out_s_a"
                ),
                _finish(second, "b", "failed", started=22, finished=23, compute=1.5, error=failed),
            ],
        )
        batch.defer(
            run_worker.STEP_NODES,
            run_worker._FINISH_NODE,
            [_finish(first, "b", "succeeded", cached=True, finished=12, output="out_f_b")],
        )
        batch.defer(
            run_worker.STEP_RUNS,
            run_worker._FINISH_RUN,
            [
                {
                    "b_run": second,
                    "v_status": "failed",
                    "v_finished": 30,
                    "v_error": failed,
                    "v_compute": 2.0,
                },
                {
                    "b_run": first,
                    "v_status": "succeeded",
                    "v_finished": 31,
                    "v_error": None,
                    "v_compute": 0.0,
                },
            ],
        )
        batch.defer(run_worker.STEP_RELEASE, run_worker._RELEASE, [{"b_run": second}])
        await batch.write_deferred()

    async with store.tenant(org.id, SYSTEM) as uow:
        nodes = {
            (r.run_id, r.node_id): (
                r.status,
                bool(r.cached),
                r.started_at,
                r.finished_at,
                r.compute_time,
                r.output_id,
                r.error,
            )
            for r in (await uow.execute(uow.select(run_nodes))).all()
        }
        ended = {
            r.id: (r.status, r.finished_at, r.error, r.compute_ms)
            for r in (await uow.execute(uow.select(runs))).all()
        }
        sealer = await uow.sealer()
        outputs = {
            r.id: (
                r.run_id,
                r.node_id,
                bool(r.cached),
                r.cache_key,
                r.size_bytes,
                sealer.open(node_outputs.c.output, r.id, bytes(r.output)),
            )
            for r in (await uow.execute(uow.select(node_outputs))).all()
        }
    assert nodes == {
        (first, "a"): ("running", False, 10, None, None, None, None),
        (first, "b"): ("succeeded", True, None, 12, None, "out_f_b", None),
        (second, "a"): ("succeeded", False, 20, 21, 0.5, "out_s_a", None),
        (second, "b"): ("failed", False, 22, 23, 1.5, None, failed),
    }
    assert ended == {
        second: ("failed", 30, failed, 2.0),
        first: ("succeeded", 31, None, 0.0),
    }
    assert outputs == {
        "out_s_a": (second, "a", False, "k" * 64, 12, b'{"value": 1}'),
        "out_f_b": (first, "b", True, None, 2, b"\x00\xff"),
    }
    async with store.global_(SYSTEM) as uow:
        queued = {r.run_id for r in (await uow.execute(run_queue.select())).all()}
    assert second not in queued and first in queued


async def test_a_repeated_key_is_written_row_by_row(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Two updates of one node in one statement: an ``UPDATE ... FROM`` would apply only
    one of them, so the rows go one at a time, in order, the last one winning."""
    org = await new_org(client)
    flow = await org.create_flow(nodes=[n("a", "constant", value=1)])
    run = (await start(org, flow["id"]))["id"]
    store = app.state.ctx.store
    async with store.tenant(org.id, SYSTEM, write=True) as uow:
        batch = RunBatch(uow)
        batch.defer(
            run_worker.STEP_NODES,
            run_worker._FINISH_NODE,
            [_finish(run, "a", "running", started=1), _finish(run, "a", "failed", started=2)],
        )
        await batch.write_deferred()
    async with store.tenant(org.id, SYSTEM) as uow:
        row = (await uow.execute(uow.select(run_nodes))).one()
    assert (row.status, row.started_at) == ("failed", 2)
