"""Issue 12, item 1: single-use socket tickets, so long-lived tokens stay out of URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import websockets
from fastapi import FastAPI
from sqlalchemy import select, update

from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store.tables import socket_tickets
from tests.collab.yclient import YClient
from tests.flows_helpers import new_org, node

TIMEOUT = 5


async def ticket_for(client: httpx.AsyncClient, token: str) -> str:
    response = await client.post("/v1/socket-tickets", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert 0 < body["expiresAt"] - now_ms() <= 30_000
    return str(body["ticket"])


async def close_code(url: str) -> int | None:
    async with websockets.connect(url) as ws:
        with contextlib.suppress(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        return ws.close_code


async def test_sync_ticket_works_once_and_the_socket_lives_with_its_token(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    assert (await client.post("/v1/socket-tickets")).status_code == 401
    ticket = await ticket_for(client, org.admin.token)
    async with websockets.connect(f"ws://{live_url}/v1/sync?ticket={ticket}") as ws:
        frame = {"type": "subscribe", "id": "q", "query": "flows.list", "args": {"orgId": org.id}}
        await ws.send(json.dumps(frame))
        result = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert result["type"] == "result" and result["value"]["items"] == []
        # A second use of the same ticket is refused like a bad token.
        assert await close_code(f"ws://{live_url}/v1/sync?ticket={ticket}") == 4401
        # The socket lives as long as the token behind the ticket: logout closes it.
        await client.post("/v1/auth/logout", headers=org.admin.headers)
        await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
        assert ws.close_code == 4401
    assert await close_code(f"ws://{live_url}/v1/sync?ticket=mb_tkt_unknown") == 4401


async def test_collab_ticket_and_expiry(
    client: httpx.AsyncClient, live_url: str, app: FastAPI
) -> None:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    url = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}?ticket="
    ticket = await ticket_for(client, org.admin.token)
    async with YClient(url + ticket) as seat:
        assert "a" in seat.nodes
    reused = YClient(url + ticket)
    await reused.connect(wait_sync=False)
    await reused.wait_for(lambda: reused.close_code is not None)
    await reused.close()
    assert reused.close_code == 4401

    # An expired ticket is refused, and the table never holds the token itself.
    ctx: AppContext = app.state.ctx
    expired = await ticket_for(client, org.admin.token)
    async with ctx.store.global_(SYSTEM, write=True) as uow:
        rows = (await uow.execute(select(socket_tickets.c.sealed_token))).scalars().all()
        assert rows and all(org.admin.token.encode() not in bytes(r) for r in rows)
        await uow.execute(update(socket_tickets).values(expires_at=now_ms() - 1))
    assert await close_code(f"ws://{live_url}/v1/sync?ticket={expired}") == 4401


async def test_collab_socket_from_a_ticket_lives_as_long_as_its_key(
    client: httpx.AsyncClient, live_url: str
) -> None:
    """A ticket made with an API key: the collab socket ends (4401) when the key is
    revoked, as one opened with ``?token=`` does; and ``?token=`` keeps working."""
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    made = await client.post(
        f"/v1/orgs/{org.id}/api-keys",
        json={"name": "k", "role": "editor"},
        headers=org.admin.headers,
    )
    key_id, key = made.json()["id"], made.json()["key"]
    url = f"ws://{live_url}/v1/collab/{org.id}/{flow['id']}"
    by_ticket = YClient(f"{url}?ticket={await ticket_for(client, key)}")
    by_token = YClient(f"{url}?token={key}")
    async with by_ticket, by_token:
        assert "a" in by_ticket.nodes and "a" in by_token.nodes
        revoked = await client.delete(
            f"/v1/orgs/{org.id}/api-keys/{key_id}", headers=org.admin.headers
        )
        assert revoked.status_code == 204
        await by_ticket.wait_for(lambda: by_ticket.close_code is not None)
        await by_token.wait_for(lambda: by_token.close_code is not None)
        assert (by_ticket.close_code, by_token.close_code) == (4401, 4401)
