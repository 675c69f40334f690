"""Quota warnings: 80 %, 95 %, 100 % crossings notify the org's admins once each (not per
write), again after going down and back up; mail through the notification mailer."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from typing import Any

import httpx
from fastapi import FastAPI

from minibase.domain.events import ALL_ORGS, Event, EventKind
from minibase.services.quota_alerts import QuotaAlerts, check_org, threshold
from tests.flows_helpers import new_org, node
from tests.together_helpers import TIMEOUT, add_member, notifications_of


class Settled:
    """Waits until the quota watcher has checked what the writes so far published."""

    def __init__(self, app: FastAPI) -> None:
        self.watcher: QuotaAlerts = app.state.quota_alerts
        self.bus = app.state.ctx.bus
        self.seen: asyncio.Queue[Event] = asyncio.Queue()
        self.bus.subscribe(self._on_event)

    async def _on_event(self, event: Event) -> None:
        await self.seen.put(event)

    async def after_write(self, org_id: str) -> None:
        # The bus delivers in order, to every subscriber in turn: once a marker published
        # now comes back, the watcher has been handed every earlier event.
        marker = f"marker-{secrets.token_hex(4)}"
        await self.bus.publish([Event(ALL_ORGS, EventKind.NOTIFICATIONS, (marker,))])
        while marker not in (await asyncio.wait_for(self.seen.get(), TIMEOUT)).ids:
            pass
        await asyncio.wait_for(self.watcher.settle(), TIMEOUT)


def test_threshold() -> None:
    assert [threshold(u, 100) for u in (0, 79, 80, 94, 95, 99, 100, 150)] == [
        0,
        0,
        80,
        80,
        95,
        95,
        100,
        100,
    ]
    assert threshold(10**9, None) == 0 and threshold(0, 0) == 0 and threshold(1, 0) == 100


async def quota_notes(client: httpx.AsyncClient, user: Any) -> list[dict[str, Any]]:
    items = await notifications_of(client, user)
    return [n for n in items if n["kind"] == "quota_warning"]


async def test_crossings_notify_admins_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    settled = Settled(app)
    org = await new_org(client)
    await org.patch_settings(maxFlows=20)
    await settled.after_write(org.id)
    second_admin = await add_member(client, org.admin, org.id, "admin")
    editor = await add_member(client, org.admin, org.id, "editor")
    flows = []
    for _ in range(15):
        flows.append(await org.create_flow())
        await settled.after_write(org.id)
    assert await quota_notes(client, org.admin) == []
    flows.append(await org.create_flow())  # 16/20 = 80 %
    await settled.after_write(org.id)
    (warning,) = await quota_notes(client, org.admin)
    assert warning["data"] == {
        "organizationName": "Acme",
        "quota": "maxFlows",
        "level": "warning",
        "percent": 80,
        "used": 16,
        "limit": 20,
    }
    assert len(await quota_notes(client, second_admin)) == 1
    assert await quota_notes(client, editor) == []  # admins only
    # More writes at the same level: nothing new.
    for flow in flows[:3]:
        renamed = await client.patch(
            f"{org.flows_url}/{flow['id']}",
            json={"ops": [{"op": "rename", "name": "again"}]},
            headers=org.admin.headers,
        )
        assert renamed.status_code == 200
        await settled.after_write(org.id)
    flows.append(await org.create_flow())  # 17/20 = 85 %
    await settled.after_write(org.id)
    assert len(await quota_notes(client, org.admin)) == 1
    for _ in range(3):  # 20/20: past 95 % and 100 % in the last steps
        flows.append(await org.create_flow())
        await settled.after_write(org.id)
    levels = [n["data"]["level"] for n in await quota_notes(client, org.admin)]
    assert levels == ["reached", "critical", "warning"]
    # Down below 80 % and up again: a new crossing, notified again.
    for flow in flows[:5]:
        deleted = await client.delete(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
        assert deleted.status_code == 204
        await settled.after_write(org.id)
    assert len(await quota_notes(client, org.admin)) == 3
    flows.append(await org.create_flow())  # 16/20 again
    await settled.after_write(org.id)
    levels = [n["data"]["level"] for n in await quota_notes(client, org.admin)]
    assert levels == ["warning", "reached", "critical", "warning"]


async def test_two_checkers_notify_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Two instances checking the same crossing at once: one notification."""
    settled = Settled(app)
    org = await new_org(client)
    await org.patch_settings(maxNodes=10)
    await settled.after_write(org.id)
    store = app.state.ctx.store
    # Past the threshold without the watcher hearing of it yet (its check is what races).
    await app.state.quota_alerts.close()
    await org.create_flow(nodes=[node(f"n{i}") for i in range(9)])
    counts = await asyncio.gather(*(check_org(store, org.id) for _ in range(4)))
    assert sum(counts) == 1
    (note,) = await quota_notes(client, org.admin)
    assert (note["data"]["quota"], note["data"]["level"]) == ("maxNodes", "warning")


async def test_storage_quota_by_outputs(app: FastAPI, client: httpx.AsyncClient) -> None:
    settled = Settled(app)
    org = await new_org(client)
    flow = await org.create_flow()
    await settled.after_write(org.id)
    used = (await client.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
    await org.patch_settings(storageQuota=used["storage"]["used"] + 1000)
    await settled.after_write(org.id)
    wrote = await client.post(
        f"{org.flows_url}/{flow['id']}/outputs",
        json={"nodeId": "n", "output": "x" * 950, "computeTime": 1},
        headers=org.admin.headers,
    )
    assert wrote.status_code == 201, wrote.text
    await settled.after_write(org.id)
    (note,) = await quota_notes(client, org.admin)
    assert (note["data"]["quota"], note["data"]["level"]) == ("storageQuota", "critical")


async def test_a_busy_org_is_checked_at_most_once_per_interval(
    app: FastAPI, monkeypatch: Any
) -> None:
    """A live flow publishes ``collab.update`` per stored batch: its org is not re-read for
    each, yet the last change is always checked."""
    from minibase.services import quota_alerts

    loop = asyncio.get_running_loop()
    checks: list[float] = []

    async def counting_check(store: Any, org_id: str) -> int:
        checks.append(loop.time())
        return 0

    monkeypatch.setattr(quota_alerts, "check_org", counting_check)
    watcher = QuotaAlerts(app.state.ctx.store)
    watcher.start()
    try:
        marked: list[float] = []
        for _ in range(30):
            await watcher.on_event(Event("org-busy", EventKind.COLLAB_UPDATE, ("f",)))
            marked.append(loop.time())
            await asyncio.sleep(0.01)  # spaces the batches out, as a live flow's come
        await asyncio.wait_for(watcher.settle(), TIMEOUT)
    finally:
        await watcher.close()
    gaps = [b - a for a, b in itertools.pairwise(checks)]
    assert 2 <= len(checks) < 30
    assert min(gaps) >= quota_alerts.MIN_CHECK_INTERVAL * 0.99
    assert checks[-1] >= marked[-1]  # the last mark was checked after it was made
