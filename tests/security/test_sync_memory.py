"""Issue 12, item 2: what the server holds for one user's live-query sockets is bounded
in bytes, keeps only the latest value per subscription, and is released with the socket.

The issue's attack, scaled down: two sockets of one user, each with 100 subscriptions of a
~1 MB flow, never read. The bytes queued for that user never pass
``MINIBASE_SYNC_USER_QUEUE_BYTES``; the sockets are closed with 4008 and everything they
held is released.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from minibase.config import Settings
from minibase.realtime.hub import CLOSE_TOO_SLOW, LiveQueryHub
from minibase.realtime.outbox import Outbox, Overflow, UserBudget
from tests.flows_helpers import new_org, node

MIB = 1024 * 1024
SOCKET_BYTES = 2 * MIB
USER_BYTES = 3 * MIB


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"sync_queue_bytes": SOCKET_BYTES, "sync_user_queue_bytes": USER_BYTES}
    )


def test_outbox_keeps_the_latest_value_and_its_bounds() -> None:
    budget = UserBudget(limit=1000)
    box = Outbox("usr_a", budget, max_frames=3, max_bytes=600)
    box.put("x" * 100, key="q1")
    box.put("y" * 300, key="q1")  # replaces the value still waiting
    box.put("pong")
    assert len(box) == 2 and box.bytes == 304 and budget.used == {"usr_a": 304}
    with pytest.raises(Overflow):
        box.put("z" * 400, key="q2")  # past the socket's bytes
    other = Outbox("usr_a", budget, max_frames=10, max_bytes=10_000)
    other.put("w" * 600)
    with pytest.raises(Overflow):
        other.put("v" * 200)  # past the user's bytes, across sockets
    box.put("a", key="q3")
    with pytest.raises(Overflow):
        box.put("b")  # past the socket's frames
    box.end()
    other.end()
    assert box.bytes == 0 and budget.used == {}


async def test_unread_subscriptions_of_a_large_flow_stay_bounded(
    client: httpx.AsyncClient, live_url: str, app: FastAPI
) -> None:
    org = await new_org(client)
    big = [node(f"n{i}", label="x" * 20_000) for i in range(50)]  # ~1 MB
    nodes: list[Any] = [{**n, "data": {"label": n["label"]}} for n in big]
    for n in nodes:
        n.pop("label", None)
    flow = await org.create_flow("Big", nodes)
    hub: LiveQueryHub = app.state.ctx.hub
    peak = 0
    url = f"ws://{live_url}/v1/sync?token={org.admin.token}"
    sockets = [await websockets.connect(url, max_size=None) for _ in range(2)]
    try:
        for ws in sockets:
            for i in range(100):
                frame = {
                    "type": "subscribe",
                    "id": f"q{i}",
                    "query": "flows.get",
                    "args": {"orgId": org.id, "flowId": flow["id"]},
                }
                try:
                    await ws.send(json.dumps(frame))
                except websockets.ConnectionClosed:
                    break
        # Nobody reads: watch what the server holds until both sockets are closed.
        async with asyncio.timeout(30):
            while any(c.principal.user_id == org.admin.id for c in hub.connections):
                peak = max(peak, hub.queued.total())
                await asyncio.sleep(0.005)
        assert peak <= USER_BYTES
        assert hub.queued.used == {}
        codes = []
        for ws in sockets:
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            codes.append(ws.close_code)
        assert CLOSE_TOO_SLOW in codes, codes
    finally:
        for ws in sockets:
            await ws.close()
    assert (await client.get("/healthz")).status_code == 200
    # A client that reads gets its values, within the same bounds.
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "id": "q",
                    "query": "flows.get",
                    "args": {"orgId": org.id, "flowId": flow["id"]},
                }
            )
        )
        result = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert result["type"] == "result" and len(result["value"]["nodes"]) == 50
