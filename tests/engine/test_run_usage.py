"""Runs in the org's usage: runs and compute this month, the last minute, at once, against
the plan's run limits; webhook runs count like any other (both databases)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from minibase.config import Settings
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import start, wait_for
from tests.engine.test_webhooks import create as create_hook
from tests.engine.test_webhooks import post_hook, signed
from tests.flows_helpers import Org, new_org
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error

FLOW = ([n("a", "constant", value=2), n("m", "math", expression="value * 3")], [e("a", "m")])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"run_in_server": "always", "run_poll_seconds": 0.05, "run_lease_seconds": 3.0}
    )


async def usage(org: Org, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = await org.client.get(
        f"/v1/orgs/{org.id}/usage", headers=headers or org.admin.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_runs_count_in_usage(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    before = (await usage(org))["runs"]
    assert before["runs"] == 0 and before["computeMs"] == 0
    assert before["perMinuteLimit"] == 60 and before["concurrentLimit"] == 2  # free plan
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    done = [await wait_for(org, (await start(org, flow["id"], force=True))["id"]) for _ in range(2)]
    hook = await create_hook(org, flow["id"])
    body = b'{"x": 1}'
    via_hook = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert via_hook.status_code == 202, via_hook.text
    done.append(await wait_for(org, via_hook.json()["runId"]))
    assert all(r["status"] == "succeeded" for r in done)
    after = (await usage(org))["runs"]
    assert after["runs"] == 3 and after["lastMinute"] == 3
    assert after["running"] == 0 and after["queued"] == 0
    assert after["computeMs"] == pytest.approx(sum(r["computeTime"] for r in done), abs=0.01)
    assert after["computeMs"] > 0
    assert after["month"] == time.strftime("%Y-%m", time.gmtime())

    viewer = await invite_as(client, org.admin, org.id, "viewer")
    assert (await usage(org, viewer.headers))["runs"]["runs"] == 3
    seen = await client.get(f"/v1/orgs/{org.id}/runs", headers=viewer.headers)
    assert seen.status_code == 200 and len(seen.json()["items"]) == 3
    denied = await client.post(
        f"{org.flows_url}/{flow['id']}/runs", json={}, headers=viewer.headers
    )
    assert_error(denied, 403, "forbidden")


async def test_concurrent_runs_wait_in_the_queue(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    slow = [n("d", "delay", seconds=1.0)]
    flow = await org.create_flow(nodes=slow)
    runs = [await start(org, flow["id"], force=True) for _ in range(3)]
    deadline = time.monotonic() + 10
    seen: list[tuple[int, int]] = []
    while True:
        now = (await usage(org))["runs"]
        seen.append((now["running"], now["queued"]))
        assert now["running"] <= 2, seen  # the free plan's limit
        if now["running"] == 2 and now["queued"] == 1:
            break
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.02)
    for run in runs:
        assert (await wait_for(org, run["id"]))["status"] == "succeeded"


async def test_runs_per_minute_refuse_webhook_runs_too(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    hook = await create_hook(org, flow["id"])
    for _ in range(60):
        await start(org, flow["id"])
    body = b"{}"
    refused = await post_hook(client, hook, body, signed(hook["secret"], body))
    assert_error(refused, 403, "quota_exceeded")
    assert refused.json()["error"]["details"]["quota"] == "runsPerMinute"
    manual = await client.post(
        f"{org.flows_url}/{flow['id']}/runs", json={}, headers=org.admin.headers
    )
    assert_error(manual, 403, "quota_exceeded")
    assert (await usage(org))["runs"]["lastMinute"] == 60
