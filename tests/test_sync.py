"""Live queries over ``WS /v1/sync``: results, updates on change only, live authorization."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest
import redis
import websockets
from websockets.asyncio.client import ClientConnection

from minibase.config import Settings
from tests.flows_helpers import new_org, node
from tests.helpers import signup
from tests.services import REDIS_URL, skip_or_fail

TIMEOUT = 5


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:
    """SQLite with the in-process bus; PostgreSQL with the Redis bus."""
    if backend != "postgres":
        return settings
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError:
        skip_or_fail("Redis is not reachable on 127.0.0.1:6379")
    prefix = f"mbtest-sync-{secrets.token_hex(4)}:"
    return settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))


async def recv_for(ws: ClientConnection, sub_id: str) -> dict[str, Any]:
    """The next frame for ``sub_id`` (frames of other subscriptions are skipped)."""
    while True:
        message = await recv(ws)
        if message.get("id") == sub_id:
            return message


async def subscribe(ws: ClientConnection, sub_id: str, query: str, **args: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "subscribe", "id": sub_id, "query": query, "args": args}))
    return await recv_for(ws, sub_id)


def connect(live_url: str, token: str) -> Any:
    return websockets.connect(f"ws://{live_url}/v1/sync?token={token}")


async def test_flow_get_pushes_each_change_and_only_changes(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    other = await org.create_flow("Other")
    url = f"{org.flows_url}/{flow['id']}"
    async with connect(live_url, org.admin.token) as ws:
        first = await subscribe(ws, "q1", "flows.get", orgId=org.id, flowId=flow["id"])
        assert first["type"] == "result" and first["id"] == "q1"
        assert first["version"] == 1
        assert first["value"]["nodes"] == [node("a")]

        # A change to another flow pushes nothing to q1; the next frame is q1's own change.
        await client.patch(
            f"{org.flows_url}/{other['id']}",
            headers=org.admin.headers,
            json={"ops": [{"op": "rename", "name": "O2"}]},
        )
        await client.patch(
            url, headers=org.admin.headers, json={"ops": [{"op": "addNode", "node": node("b")}]}
        )
        update = await recv(ws)
        assert update["id"] == "q1" and update["version"] == 2
        assert [n["id"] for n in update["value"]["nodes"]] == ["a", "b"]

        await ws.send(json.dumps({"type": "unsubscribe", "id": "q1"}))
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await client.patch(
            url, headers=org.admin.headers, json={"ops": [{"op": "rename", "name": "F2"}]}
        )
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}  # nothing for q1 any more


async def test_lists_and_usage_follow_writes(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    async with connect(live_url, org.admin.token) as ws:
        listed = await subscribe(ws, "flows", "flows.list", orgId=org.id)
        assert listed["value"] == {"items": [], "nextCursor": None}
        usage = await subscribe(ws, "usage", "usage.get", orgId=org.id)
        assert usage["value"]["flows"]["used"] == 0
        flow = await org.create_flow("F", [node("a")])
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < 2:
            message = await recv(ws)
            seen[message["id"]] = message
        assert [f["id"] for f in seen["flows"]["value"]["items"]] == [flow["id"]]
        assert seen["usage"]["value"]["nodes"]["used"] == 1

        outputs = await subscribe(ws, "out", "outputs.list", orgId=org.id, flowId=flow["id"])
        assert outputs["value"]["items"] == []
        await client.post(
            f"{org.flows_url}/{flow['id']}/outputs",
            headers=org.admin.headers,
            json={"nodeId": "a", "output": [1], "computeTime": 1},
        )
        message = await recv_for(ws, "out")
        assert message["value"]["items"][0]["output"] == [1]

        versions = await subscribe(ws, "v", "versions.list", orgId=org.id, flowId=flow["id"])
        assert [v["version"] for v in versions["value"]["items"]] == [1]
        audit = await subscribe(ws, "a", "audit.list", orgId=org.id)
        assert audit["value"]["items"][0]["action"] == "output.create"


async def test_errors_and_cross_tenant(client: httpx.AsyncClient, live_url: str) -> None:
    org = await new_org(client)
    theirs = await new_org(client)
    their_flow = await theirs.create_flow("Secret")
    async with connect(live_url, org.admin.token) as ws:
        unknown = await subscribe(ws, "x", "nope.nope", orgId=org.id)
        assert unknown["type"] == "error" and unknown["error"]["code"] == "validation_error"
        foreign = await subscribe(ws, "f", "flows.get", orgId=theirs.id, flowId=their_flow["id"])
        random = await subscribe(ws, "r", "flows.get", orgId="org_random", flowId="flow_x")
        missing = await subscribe(ws, "m", "flows.get", orgId=org.id, flowId="flow_x")
        for message in (foreign, random, missing):
            assert message["type"] == "error"
            assert message["error"]["code"] == "not_found"
        assert foreign["error"] == random["error"]
        await ws.send("not json")
        bad = await recv(ws)
        assert bad["type"] == "error" and bad["error"]["code"] == "bad_request"


async def test_bad_token_and_logout_close_with_4401(
    client: httpx.AsyncClient, live_url: str
) -> None:
    async with connect(live_url, "mb_sess_wrong") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    user = await signup(client)
    async with connect(live_url, user.token) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        await client.post("/v1/auth/logout", headers=user.headers)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_subscription_limit_and_shutdown_going_away(
    client: httpx.AsyncClient, live_url: str, app: Any
) -> None:
    org = await new_org(client)
    limit = app.state.ctx.settings.sync_max_subscriptions
    async with connect(live_url, org.admin.token) as ws:
        for i in range(limit):
            ok = await subscribe(ws, f"s{i}", "usage.get", orgId=org.id)
            assert ok["type"] == "result"
        over = await subscribe(ws, "one-too-many", "usage.get", orgId=org.id)
        assert over["type"] == "error" and over["error"]["code"] == "forbidden"
        # Shutdown closes every socket with 1001 (going away) so clients reconnect.
        await app.state.ctx.hub.close()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


async def test_a_client_too_far_behind_is_disconnected(
    client: httpx.AsyncClient, live_url: str, app: Any
) -> None:
    from minibase.realtime.hub import CLOSE_TOO_SLOW

    org = await new_org(client)
    hub = app.state.ctx.hub
    async with connect(live_url, org.admin.token) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}
        (conn,) = [c for c in hub.connections if c.principal.user_id == org.admin.id]
        # Frames go straight to the socket while it takes them (the direct path): with
        # the client not reading (this loop never yields), the kernel's buffers fill,
        # then the transport's, and only then the queue, until it passes its bound.
        assert conn.direct is not None
        pad = "x" * 32_000
        sent = 0
        while not conn.closed:
            sent += 1
            assert sent < 5_000, "the client that fell behind was never disconnected"
            conn.send({"type": "pong", "pad": pad})
        assert conn.close_code == CLOSE_TOO_SLOW and conn.outbox.bytes == 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:  # it gets what reached its socket, then the close frame
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TOO_SLOW


class _NeverReads:
    """A socket whose peer never reads: its first send waits forever (full buffers)."""

    scope: dict[str, Any] = {}  # no direct writer: every frame takes the ASGI send

    def __init__(self) -> None:
        from starlette.websockets import WebSocketState

        self.application_state = WebSocketState.CONNECTED
        self.sends = 0
        self.writing = asyncio.Event()
        self.closing: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def send_text(self, text: str) -> None:
        self.sends += 1
        self.writing.set()
        await asyncio.Event().wait()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if not self.closing.done():
            self.closing.set_result(code)
        await asyncio.Event().wait()  # the close frame is not taken either


async def test_a_reader_that_never_reads_costs_the_others_nothing(
    client: httpx.AsyncClient, live_url: str, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from minibase.auth.credentials import authenticate
    from minibase.realtime import hub as hub_module
    from minibase.realtime.hub import CLOSE_TOO_SLOW
    from minibase.services.live_queries import parse_subscription

    monkeypatch.setattr(hub_module, "CLOSE_TIMEOUT", 0.2)
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    hub = app.state.ctx.hub
    ctx = app.state.ctx
    principal = await authenticate(ctx.store, ctx.settings, org.admin.token)
    stuck_ws = _NeverReads()
    stuck = hub.connect(stuck_ws, principal, org.admin.token)
    spec, args = parse_subscription("flows.get", {"orgId": org.id, "flowId": flow["id"]})
    await hub.subscribe(stuck, "q", spec, args)
    await asyncio.wait_for(stuck_ws.writing.wait(), TIMEOUT)  # its sender waits on it now
    url = f"{org.flows_url}/{flow['id']}"
    async with connect(live_url, org.admin.token) as ws:
        assert (await subscribe(ws, "q", "flows.get", orgId=org.id, flowId=flow["id"]))[
            "version"
        ] == 1
        for i in range(10):
            await client.patch(
                url, headers=org.admin.headers, json={"ops": [{"op": "rename", "name": f"v{i}"}]}
            )
            update = await recv_for(ws, "q")  # the reader gets every change at once
            assert update["version"] == i + 2 and update["value"]["name"] == f"v{i}"
        # The stuck socket holds only the latest value it has not taken, never a backlog.
        assert len(stuck.outbox) == 1 and stuck_ws.sends == 1
        # Past its bound it is closed (4008): its write is stopped, what it held released.
        for _ in range(stuck.outbox.max_frames + 1):
            stuck.send({"type": "pong"})
        assert stuck.closed and stuck.outbox.bytes == 0
        assert await asyncio.wait_for(stuck_ws.closing, TIMEOUT) == CLOSE_TOO_SLOW
        hub.disconnect(stuck)
        assert stuck.sender is not None and stuck.closer is not None
        await asyncio.wait([stuck.sender, stuck.closer], timeout=TIMEOUT)
        assert stuck.sender.cancelled() and stuck.closer.done()
        await client.patch(
            url, headers=org.admin.headers, json={"ops": [{"op": "rename", "name": "last"}]}
        )
        assert (await recv_for(ws, "q"))["value"]["name"] == "last"
