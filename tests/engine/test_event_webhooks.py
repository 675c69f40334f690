"""Outbound event webhooks: subscriptions, signed deliveries to a real local receiver,
retries with backoff, the delivery log, the SSRF guard (both databases)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook
from starlette.responses import Response

from minibase.app import create_app
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.services import event_webhooks
from minibase.store.tables import event_deliveries
from minibase.store.tables import event_webhooks as event_webhooks_table
from tests.engine.helpers import e, n
from tests.engine.runs_helpers import start, wait_for
from tests.flows_helpers import Org, new_org
from tests.servers import serve_in_process
from tests.test_access_matrix import invite_as
from tests.test_http_basics import assert_error

FLOW = ([n("a", "constant", value=1), n("out", "output")], [e("a", "out")])


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "run_in_server": "always",
            "run_poll_seconds": 0.05,
            "run_lease_seconds": 3.0,
            "webhook_allow_private": True,
            "webhook_retry_base_seconds": 0.2,
            "webhook_poll_seconds": 0.1,
            "webhook_timeout_seconds": 3.0,
        }
    )


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    received: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, count: int, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while len(self.received) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{len(self.received)} deliveries of {count}"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    def events(self) -> list[str]:
        import orjson

        return [orjson.loads(body)["type"] for _, _, body in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = FastAPI()
    state = Receiver(url="")

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        state.received.append((time.monotonic(), dict(request.headers), await request.body()))
        state.arrived.set()
        if len(state.received) <= state.fail_first:
            return Response(status_code=500)
        return Response(status_code=204)

    async with serve_in_process(app) as address:
        state.url = f"http://{address}/hook"
        yield state


async def subscribe(org: Org, url: str, events: list[str]) -> dict[str, Any]:
    response = await org.client.post(
        f"/v1/orgs/{org.id}/event-webhooks",
        json={"url": url, "events": events},
        headers=org.admin.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliveries(org: Org, webhook_id: str) -> list[dict[str, Any]]:
    response = await org.client.get(
        f"/v1/orgs/{org.id}/event-webhooks/{webhook_id}/deliveries", headers=org.admin.headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def settled(org: Org, webhook_id: str, count: int, within: float = 15.0) -> list[Any]:
    """The delivery log once ``count`` deliveries have stopped being pending."""
    deadline = time.monotonic() + within
    while True:
        items = await deliveries(org, webhook_id)
        if len(items) >= count and all(d["status"] != "pending" for d in items):
            return items
        assert time.monotonic() < deadline, items
        await asyncio.sleep(0.05)


async def test_manage_and_validate(client: httpx.AsyncClient, receiver: Receiver) -> None:
    org = await new_org(client)
    base = f"/v1/orgs/{org.id}/event-webhooks"
    created = await subscribe(org, receiver.url, ["run.succeeded", "flow.created"])
    assert created["id"].startswith("ewh_") and created["secret"].startswith("whsec_")
    assert created["url"] == receiver.url
    assert created["events"] == ["run.succeeded", "flow.created"]
    listed = (await client.get(base, headers=org.admin.headers)).json()["items"]
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]

    editor = await invite_as(client, org.admin, org.id, "editor")
    for method, path in (("GET", base), ("POST", base), ("DELETE", f"{base}/{created['id']}")):
        denied = await client.request(
            method,
            path,
            json={"url": receiver.url, "events": ["flow.created"]},
            headers=editor.headers,
        )
        assert_error(denied, 403, "forbidden")
    for body in (
        {"url": receiver.url, "events": ["flow.exploded"]},
        {"url": receiver.url, "events": []},
        {"url": receiver.url},
        {"url": "ftp://example.com/x", "events": ["flow.created"]},
        # Not URLs at all (control characters, an unencodable host): 422, never a 500.
        {"url": "\U000f701cU\x9b\x12\xbe", "events": ["flow.created"]},
        {"url": "http://exa\u200dmple..com/", "events": ["flow.created"]},
        {"url": "http://" + "a" * 70 + ".com/", "events": ["flow.created"]},
        {"url": receiver.url, "events": ["flow.created"], "extra": 1},
    ):
        assert_error(
            await client.post(base, json=body, headers=org.admin.headers), 422, "validation_error"
        )
    assert_error(
        await client.get(f"{base}/ewh_nope/deliveries", headers=org.admin.headers), 404, "not_found"
    )
    assert (
        await client.delete(f"{base}/{created['id']}", headers=org.admin.headers)
    ).status_code == 204
    assert_error(
        await client.delete(f"{base}/{created['id']}", headers=org.admin.headers), 404, "not_found"
    )
    audit = (await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)).json()
    actions = [a["action"] for a in audit["items"]]
    assert "event_webhook.create" in actions and "event_webhook.delete" in actions


async def test_signed_deliveries_of_org_events(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver, settings: Settings
) -> None:
    org = await new_org(client)
    hook = await subscribe(
        org,
        receiver.url,
        ["flow.created", "flow.updated", "flow.deleted", "run.succeeded", "member.added"],
    )
    flow = await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    await receiver.wait(1)
    run = await start(org, flow["id"])
    assert (await wait_for(org, run["id"]))["status"] == "succeeded"
    await receiver.wait(2)
    await invite_as(client, org.admin, org.id, "viewer")
    await receiver.wait(3)
    renamed = await client.put(
        f"{org.flows_url}/{flow['id']}",
        json={"name": "Renamed", "nodes": FLOW[0], "edges": FLOW[1], "baseVersion": 1},
        headers=org.admin.headers,
    )
    assert renamed.status_code == 200, renamed.text
    await receiver.wait(4)
    assert (
        await client.delete(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
    ).status_code == 204
    await receiver.wait(5)
    assert receiver.events() == [
        "flow.created",
        "run.succeeded",
        "member.added",
        "flow.updated",
        "flow.deleted",
    ]
    verifier = Webhook(hook["secret"])
    for _, headers, body in receiver.received:
        payload = verifier.verify(body, headers)  # raises unless signed with the secret
        assert payload["organizationId"] == org.id
    run_event = verifier.verify(receiver.received[1][2], receiver.received[1][1])
    assert run_event["data"] == {"flowId": flow["id"], "runId": run["id"], "status": "succeeded"}

    log = await settled(org, hook["id"], 5)
    assert [d["event"] for d in log] == list(reversed(receiver.events()))  # newest first
    for d in log:
        assert d["status"] == "succeeded" and d["attempts"] == 1 and d["responseStatus"] == 204
        assert d["deliveredAt"] >= d["createdAt"] and d["nextAttemptAt"] is None
    ids = {h["webhook-id"] for _, h, _ in receiver.received}
    assert ids == {d["id"] for d in log}

    if settings.is_sqlite:
        ctx: AppContext = app.state.ctx
        await ctx.database.close()
        db = settings.data_dir / "minibase.db"
        raw = b"".join(p.read_bytes() for p in (db, db.with_name("minibase.db-wal")) if p.exists())
        assert hook["id"].encode() in raw
        assert hook["secret"].encode() not in raw
        assert hook["secret"][len("whsec_") :].encode() not in raw


async def test_a_failing_receiver_is_retried_with_backoff(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    org = await new_org(client)
    hook = await subscribe(org, receiver.url, ["flow.created"])
    await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    await receiver.wait(3)
    (log,) = await settled(org, hook["id"], 1)
    assert log["status"] == "succeeded" and log["attempts"] == 3, log
    assert len({h["webhook-id"] for _, h, _ in receiver.received}) == 1  # the same message
    first, second, third = (at for at, _, _ in receiver.received)
    assert second - first >= 0.2 and third - second >= 0.4, (second - first, third - second)

    # A receiver that keeps failing: pending with the next attempt set, then failed once the
    # retry window (24 h from the event) has passed.
    receiver.fail_first = 10_000
    await org.create_flow(name="Second", nodes=FLOW[0], edges=FLOW[1])
    await receiver.wait(5)
    items = await deliveries(org, hook["id"])
    newest = items[0]
    assert newest["status"] == "pending" and newest["attempts"] >= 1
    assert newest["responseStatus"] == 500 and newest["error"] == "HTTP 500"
    assert newest["nextAttemptAt"] is not None
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org.id, SYSTEM, write=True) as uow:
        await uow.execute(
            uow.update(event_deliveries)
            .where(event_deliveries.c.id == newest["id"])
            .values(created_at=newest["createdAt"] - 25 * 3_600_000)
        )

    async def current() -> dict[str, Any]:
        return next(d for d in await deliveries(org, hook["id"]) if d["id"] == newest["id"])

    deadline = time.monotonic() + 15
    while (await current())["status"] != "failed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    final = await current()
    assert final["nextAttemptAt"] is None and final["responseStatus"] == 500


async def test_private_targets_are_refused(settings: Settings) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    app = create_app(strict, run_migrations=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            org = await new_org(client)
            for url in (
                "http://127.0.0.1:9/hook",
                "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data",
                "http://[::1]/hook",
                "http://localhost/hook",
            ):
                response = await client.post(
                    f"/v1/orgs/{org.id}/event-webhooks",
                    json={"url": url, "events": ["flow.created"]},
                    headers=org.admin.headers,
                )
                assert_error(response, 422, "validation_error")
                assert response.json()["error"]["details"]["fields"][0]["field"] == "url"
    # At delivery time the resolved address is checked again.
    claimed = event_webhooks.Claimed("http://127.0.0.1:9/hook", "whsec_" + "A" * 32, b"{}", 0, 0)
    status, error = await event_webhooks._send(strict, "msg_x", claimed)
    assert status is None and error is not None and error.startswith("blocked")


async def test_pending_deliveries_survive_a_restart(
    settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.fail_first = 10_000
    first = create_app(settings, run_migrations=False)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            org = await new_org(client)
            hook = await subscribe(org, receiver.url, ["flow.created"])
            await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
            await receiver.wait(1)
    # The server is gone with the delivery still pending; the next one delivers it.
    tried = len(receiver.received)
    receiver.fail_first = 0
    second = create_app(settings, run_migrations=False)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            org.client = client
            await receiver.wait(tried + 1)
            (log,) = await settled(org, hook["id"], 1)
    assert log["status"] == "succeeded" and log["attempts"] == tried + 1
    assert len({h["webhook-id"] for _, h, _ in receiver.received}) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert hook["secret"] not in logged and hook["secret"][len("whsec_") :] not in logged
    for _, headers, _ in receiver.received:
        assert headers["webhook-signature"].split(",")[-1] not in logged


async def test_run_failed_and_quota_warning(client: httpx.AsyncClient, receiver: Receiver) -> None:
    org = await new_org(client)
    hook = await subscribe(org, receiver.url, ["run.failed", "quota.warning"])
    await org.patch_settings(maxFlows=2)
    failing = await org.create_flow(nodes=[n("m", "math", expression="1 / 0")])
    run = await start(org, failing["id"])
    assert (await wait_for(org, run["id"]))["status"] == "failed"
    await org.create_flow(name="Second")  # 2 of 2 flows: maxFlows at 100 %
    await receiver.wait(2)
    verifier = Webhook(hook["secret"])
    payloads = {p["type"]: p for p in (verifier.verify(b, h) for _, h, b in receiver.received)}
    assert payloads["run.failed"]["data"] == {
        "flowId": failing["id"],
        "runId": run["id"],
        "status": "failed",
    }
    warning = payloads["quota.warning"]["data"]
    assert warning["quota"] == "maxFlows" and warning["limit"] == 2 and warning["used"] >= 1


async def test_event_webhooks_go_with_their_org(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.fail_first = 10_000
    org = await new_org(client)
    await subscribe(org, receiver.url, ["flow.created"])
    await org.create_flow(nodes=FLOW[0], edges=FLOW[1])
    await receiver.wait(1)
    gone = await client.delete(f"/v1/orgs/{org.id}", headers=org.admin.headers)
    assert gone.status_code == 204, gone.text
    ctx: AppContext = app.state.ctx
    async with ctx.store.tenant(org.id, SYSTEM) as uow:
        left = [
            len((await uow.execute(uow.select(table))).all())
            for table in (event_webhooks_table, event_deliveries)
        ]
    assert left == [0, 0]
    async with ctx.store.global_(SYSTEM) as guow:
        assert await event_webhooks.due(guow, now=2**62) == []


async def test_a_recorded_delivery_wakes_the_loop_at_once(
    settings: Settings, receiver: Receiver
) -> None:
    """The loop sleeps up to its poll interval (a minute here); the transaction that records
    a delivery publishes ``webhook.deliveries``, which wakes it: the receiver hears of the
    change at once, not a minute later. A save nobody subscribed to wakes nothing."""
    from minibase.domain.events import Event, EventKind

    slow = settings.model_copy(update={"webhook_poll_seconds": 60.0})
    app = create_app(slow, run_migrations=False)
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        seen: list[Event] = []

        async def record(event: Event) -> None:
            if event.kind == EventKind.WEBHOOK_DELIVERIES:
                seen.append(event)

        ctx.bus.subscribe(record)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            org = await new_org(client)
            await org.create_flow(name="before anyone listens")
            hook = await subscribe(org, receiver.url, ["flow.created"])
            assert seen == []  # no delivery recorded, nothing to wake for
            await org.create_flow(name="heard")
            await receiver.wait(1, within=10)
            (event,) = seen
            (delivery,) = await settled(org, hook["id"], 1)
            assert event.org_id == org.id and event.ids == (delivery["id"],)
