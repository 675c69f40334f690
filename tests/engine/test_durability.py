"""Durable runs on PostgreSQL: a worker killed mid-run (SIGKILL) loses nothing and
records nothing twice; another worker finishes the run. A worker that stalls (SIGSTOP)
past its lease and wakes up after another took the run over records nothing more."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.store.tables import node_outputs, runs
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import nodes_by_id, start, wait_for
from tests.engine.workers import WorkerProcess
from tests.flows_helpers import new_org


@pytest.fixture(params=["postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"run_in_server": "never"})


async def test_killed_worker_run_finishes_on_another_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("start", "constant", value=1),
            n("slow1", "delay", seconds=0.5),
            n("slow2", "delay", seconds=2.0),
            n("end", "output"),
        ],
        edges=[e("start", "slow1"), e("slow1", "slow2"), e("slow2", "end")],
    )
    run = await start(org, flow["id"])
    lease = {"MINIBASE_RUN_LEASE_SECONDS": "1.5"}
    first = WorkerProcess(settings, tmp_path, "first", **lease)
    second: WorkerProcess | None = None
    try:
        await asyncio.to_thread(first.wait_running)
        while True:  # until slow1 is recorded and slow2 runs
            current = await wait_for(org, run["id"], {"running"})
            nodes = nodes_by_id(current)
            if nodes["slow2"]["status"] == "running":
                break
            await asyncio.sleep(0.02)
        before = nodes
        first.kill()
        second = WorkerProcess(settings, tmp_path, "second", **lease)
        done = await wait_for(org, run["id"], within=30)
    finally:
        if first.process.poll() is None:
            first.kill()
        if second is not None:
            second.stop()
    assert done["status"] == "succeeded", done
    after = nodes_by_id(done)
    for node_id in ("start", "slow1"):  # finished before the kill: not run again
        assert after[node_id]["outputId"] == before[node_id]["outputId"]
        assert after[node_id]["startedAt"] == before[node_id]["startedAt"]
    assert after["slow2"]["startedAt"] > before["slow2"]["startedAt"]
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org.id, SYSTEM) as uow:
        attempts = (
            await uow.execute(uow.select(runs, runs.c.attempts).where(runs.c.id == run["id"]))
        ).scalar_one()
        per_node = (
            await uow.execute(
                select(node_outputs.c.node_id, func.count())
                .where(
                    node_outputs.c.organization_id == org.id,
                    node_outputs.c.run_id == run["id"],
                )
                .group_by(node_outputs.c.node_id)
            )
        ).all()
    assert attempts == 2
    assert dict(per_node) == {"start": 1, "slow1": 1, "slow2": 1, "end": 1}


async def output_counts(app: FastAPI, org_id: str, run_id: str) -> dict[str, int]:
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org_id, SYSTEM) as uow:
        rows = await uow.execute(
            select(node_outputs.c.node_id, func.count())
            .where(node_outputs.c.organization_id == org_id, node_outputs.c.run_id == run_id)
            .group_by(node_outputs.c.node_id)
        )
        return {str(node): int(count) for node, count in rows.all()}


def wait_for_log(worker: WorkerProcess, text: bytes, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while text not in worker.log_path.read_bytes():
        assert time.monotonic() < deadline, worker.log_path.read_text()
        time.sleep(0.05)


async def test_stalled_worker_records_nothing_once_another_took_over(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    """The fence (issue 13's spike, docs/engine-durability.md): a stalled worker wakes up
    with a node finishing in its hands and must not record it, nor anything after it."""
    org = await new_org(client)
    flow = await org.create_flow(
        nodes=[
            n("start", "constant", value=1),
            n("slow1", "delay", seconds=0.3),
            n("slow2", "delay", seconds=1.0),
            n("slow3", "delay", seconds=0.3),
            n("end", "output"),
        ],
        edges=[e("start", "slow1"), e("slow1", "slow2"), e("slow2", "slow3"), e("slow3", "end")],
    )
    run = await start(org, flow["id"])
    lease = {"MINIBASE_RUN_LEASE_SECONDS": "1.5"}
    first = WorkerProcess(settings, tmp_path, "first", **lease)
    second: WorkerProcess | None = None
    stopped = False
    try:
        await asyncio.to_thread(first.wait_running)
        before: dict[str, Any] = {}
        while before.get("slow2", {}).get("status") != "running":
            before = nodes_by_id(await wait_for(org, run["id"], {"running"}))
            await asyncio.sleep(0.02)
        first.process.send_signal(signal.SIGSTOP)
        stopped = True
        second = WorkerProcess(settings, tmp_path, "second", **lease)
        while True:  # the second worker took the run over and started slow2 again
            current = nodes_by_id(await wait_for(org, run["id"], {"running"}, within=30))
            if (current["slow2"]["startedAt"] or 0) > before["slow2"]["startedAt"]:
                break
            await asyncio.sleep(0.02)
        first.process.send_signal(signal.SIGCONT)  # its slow2 finishes in its hands
        stopped = False
        done = await wait_for(org, run["id"], within=30)
        await asyncio.to_thread(wait_for_log, first, b"lease lost")
        later = await wait_for(org, run["id"])
    finally:
        if stopped:
            first.process.send_signal(signal.SIGCONT)
        first.stop()
        if second is not None:
            second.stop()
    assert done["status"] == "succeeded", done
    assert later == done  # nothing written by the woken worker after the end
    assert await output_counts(app, org.id, run["id"]) == {
        "start": 1,
        "slow1": 1,
        "slow2": 1,
        "slow3": 1,
        "end": 1,
    }
    assert nodes_by_id(done)["slow2"]["startedAt"] > before["slow2"]["startedAt"]
