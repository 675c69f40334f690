"""Schedules through the API and their firing: one run per fire time, catch-up, nextRunAt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import select, update

from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.realtime import build_bus
from minibase.services import schedules
from minibase.services.engine_host import EngineHost
from minibase.store.database import Database
from minibase.store.tables import runs, schedule_timers
from minibase.store.tables import schedules as schedules_table
from minibase.store.unit_of_work import Store
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import wait_for
from tests.flows_helpers import Org, new_org
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error

FLOW = ([n("in", "input", name="who"), n("out", "output")], [e("in", "out")])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "run_in_server": "always",
            "run_poll_seconds": 0.05,
            "run_lease_seconds": 3.0,
            "schedule_poll_seconds": 0.2,
        }
    )


def url(org: Org, flow_id: str) -> str:
    return f"{org.flows_url}/{flow_id}/schedules"


async def create(org: Org, flow_id: str, expect: int = 201, **body: Any) -> dict[str, Any]:
    response = await org.client.post(url(org, flow_id), json=body, headers=org.admin.headers)
    assert response.status_code == expect, response.text
    return dict(response.json())


async def test_crud_validation_and_next_run(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    before = now_ms()
    created = await create(org, flow["id"], cron="0 9 * * *", timezone="Europe/Berlin")
    assert created["id"].startswith("sch_") and created["enabled"] is True
    assert created["inputs"] == {} and created["lastRunAt"] is None
    nxt = datetime.fromtimestamp(created["nextRunAt"] / 1000, ZoneInfo("Europe/Berlin"))
    assert (nxt.hour, nxt.minute, nxt.second) == (9, 0, 0)
    assert 0 < created["nextRunAt"] - before <= 24 * 3600 * 1000
    listed = (await client.get(url(org, flow["id"]), headers=org.admin.headers)).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    item = f"{url(org, flow['id'])}/{created['id']}"
    off = await client.patch(item, json={"enabled": False}, headers=org.admin.headers)
    assert off.status_code == 200 and off.json()["nextRunAt"] is None
    on = await client.patch(
        item,
        json={"enabled": True, "cron": "@hourly", "inputs": {"who": "x"}},
        headers=org.admin.headers,
    )
    assert on.json()["nextRunAt"] is not None and on.json()["inputs"] == {"who": "x"}
    for body, field in (
        ({"cron": "0 0 31 2 *"}, "cron"),
        ({"cron": "99 * * * *"}, "cron"),
        ({"cron": "0 * * * *", "timezone": "Nowhere/Land"}, "timezone"),
        ({"cron": 5}, "cron"),
        ({"cron": "0 * * * *", "inputs": [1]}, "inputs"),
        ({"cron": "0 * * * *", "color": "red"}, "color"),
    ):
        response = await client.post(url(org, flow["id"]), json=body, headers=org.admin.headers)
        assert_error(response, 422, "validation_error")
        assert response.json()["error"]["details"]["fields"][0]["field"] == field
    bad_patch = await client.patch(item, json={"timezone": "Nope/No"}, headers=org.admin.headers)
    assert_error(bad_patch, 422, "validation_error")
    viewer = await invite_as(client, org.admin, org.id, "viewer")
    denied = await client.post(
        url(org, flow["id"]), json={"cron": "@daily"}, headers=viewer.headers
    )
    assert_error(denied, 403, "forbidden")
    missing = await client.post(
        url(org, "flow_nope"), json={"cron": "@daily"}, headers=org.admin.headers
    )
    assert_error(missing, 404, "not_found")
    deleted = await client.delete(item, headers=org.admin.headers)
    assert deleted.status_code == 204
    assert_error(await client.delete(item, headers=org.admin.headers), 404, "not_found")
    audit = (await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)).json()
    actions = {event["action"] for event in audit["items"]}
    assert {"schedule.create", "schedule.update", "schedule.delete"} <= actions


async def test_a_schedule_starts_runs_with_its_inputs(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    created = await create(org, flow["id"], cron="* * * * * *", inputs={"who": "cron"})
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        listed = (
            await client.get(
                f"/v1/orgs/{org.id}/runs", params={"flowId": flow["id"]}, headers=org.admin.headers
            )
        ).json()["items"]
        if listed:
            break
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    run = await wait_for(org, listed[-1]["id"])
    assert run["trigger"] == {"type": "schedule", "id": created["id"]}
    assert run["status"] == "succeeded"
    out = (
        await client.get(
            f"{org.flows_url}/{flow['id']}/outputs",
            params={"nodeId": "out", "latest": "true"},
            headers=org.admin.headers,
        )
    ).json()["items"]
    assert out[0]["output"] == {"value": "cron"}
    item = f"{url(org, flow['id'])}/{created['id']}"
    await client.patch(item, json={"enabled": False}, headers=org.admin.headers)
    current = (await client.get(url(org, flow["id"]), headers=org.admin.headers)).json()
    assert current["items"][0]["lastRunId"] is not None


async def test_schedules_list_is_live(client: httpx.AsyncClient, live_url: str) -> None:
    """``schedules.list {orgId, flowId}`` pushes creations, each fire (lastRunAt, nextRunAt)
    and deletions."""
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    other = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    args = {"orgId": org.id, "flowId": flow["id"]}
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={org.admin.token}") as ws:
        sub = {"type": "subscribe", "id": "s", "query": "schedules.list", "args": args}
        await ws.send(json.dumps(sub))

        async def pushed() -> list[dict[str, Any]]:
            message = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert message["type"] == "result", message
            return list(message["value"]["items"])

        assert await pushed() == []
        await create(org, other["id"], cron="@daily")  # another flow's: nothing pushed
        created = await create(org, flow["id"], cron="* * * * * *")
        first = await pushed()
        assert [s["id"] for s in first] == [created["id"]]
        assert first[0]["lastRunAt"] is None
        async with asyncio.timeout(15):  # it fires every second: lastRunAt arrives live
            while (items := await pushed())[0]["lastRunAt"] is None:
                pass
        assert items[0]["lastRunId"] is not None
        assert items[0]["nextRunAt"] > items[0]["lastRunAt"]
        item = f"{url(org, flow['id'])}/{created['id']}"
        assert (await client.delete(item, headers=org.admin.headers)).status_code == 204
        async with asyncio.timeout(15):  # a fire may still be on its way before the delete
            while await pushed() != []:
                pass


async def test_missed_fires_start_one_catch_up_run(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    ctx: AppContext = app.state.ctx
    assert ctx.engine is not None and ctx.engine.scheduler is not None
    await ctx.engine.scheduler.close()  # the instance is "down"
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    created = await create(org, flow["id"], cron="* * * * *")
    now = now_ms()
    long_ago = now - 10 * 60_000 - 5_000  # ten fire times were missed
    async with ctx.store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            update(schedule_timers)
            .where(schedule_timers.c.schedule_id == created["id"])
            .values(next_fire_at=long_ago - long_ago % 60_000)
        )
    started = await schedules.fire_due(ctx.store, ctx.engine.registry, now=now)
    assert len(started) == 1
    assert await schedules.fire_due(ctx.store, ctx.engine.registry, now=now) == []
    after = (await client.get(url(org, flow["id"]), headers=org.admin.headers)).json()["items"][0]
    assert after["lastRunId"] == started[0]
    assert after["lastRunAt"] == now - now % 60_000  # the latest missed fire time
    assert after["nextRunAt"] == now - now % 60_000 + 60_000


async def test_an_orgs_due_schedules_fire_together_and_a_broken_one_alone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: AppContext = app.state.ctx
    assert ctx.engine is not None and ctx.engine.scheduler is not None
    await ctx.engine.scheduler.close()
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    made = [await create(org, flow["id"], cron="* * * * *") for _ in range(3)]
    ids = [m["id"] for m in made]
    now = now_ms()
    async with ctx.store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            update(schedule_timers)
            .where(schedule_timers.c.schedule_id.in_(ids))
            .values(next_fire_at=now - now % 60_000)
        )
    async with ctx.store.tenant(org.id, SYSTEM, write=True) as uow:  # stored before a bug fix
        await uow.execute(
            uow.update(schedules_table)
            .where(schedules_table.c.id == ids[1])
            .values(cron="not a cron")
        )
    started = await schedules.fire_due(ctx.store, ctx.engine.registry, now=now)
    assert len(started) == 2
    listed = (await client.get(url(org, flow["id"]), headers=org.admin.headers)).json()["items"]
    last = {s["id"]: s["lastRunId"] for s in listed}
    assert set(started) == {last[ids[0]], last[ids[2]]} and last[ids[1]] is None
    async with ctx.store.global_(SYSTEM) as uow:  # the broken one's timer stopped
        timers = await uow.execute(
            select(schedule_timers.c.schedule_id).where(schedule_timers.c.schedule_id.in_(ids))
        )
        assert set(timers.scalars().all()) == {ids[0], ids[2]}


@pytest.fixture
async def second_instance(settings: Settings) -> AsyncIterator[EngineHost]:
    """Another server process's scheduler and worker on the same database."""
    database = Database(settings)
    bus = build_bus(settings)
    store = Store(database, publish=bus.publish)
    await bus.start()
    engine = EngineHost(store, settings, bus, execute_runs=True, watch_changes=False)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.close()
        await bus.close()
        await database.close()


@pytest.mark.parametrize("backend", ["postgres"])
async def test_two_instances_fire_each_time_once(
    app: FastAPI, client: httpx.AsyncClient, second_instance: EngineHost
) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    created = await create(org, flow["id"], cron="* * * * * *")
    ctx: AppContext = app.state.ctx

    async def fired() -> list[str]:
        async with ctx.store.tenant(org.id, SYSTEM) as uow:
            rows = await uow.execute(
                select(runs.c.dedupe_key).where(
                    runs.c.organization_id == org.id, runs.c.trigger_id == created["id"]
                )
            )
            return [str(k) for k in rows.scalars().all()]

    async with asyncio.timeout(30):  # both schedulers polling, one second per fire time
        while len(await fired()) < 8:  # noqa: ASYNC110 - runs are rows, not events here
            await asyncio.sleep(0.1)
    item = f"{url(org, flow['id'])}/{created['id']}"
    await client.patch(item, json={"enabled": False}, headers=org.admin.headers)
    keys = await fired()
    times = sorted(int(k.rsplit(":", 1)[1]) for k in keys)
    assert len(times) >= 8
    assert len(set(times)) == len(times)
    assert times == list(range(times[0], times[-1] + 1000, 1000))  # no fire time skipped
