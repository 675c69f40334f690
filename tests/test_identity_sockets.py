"""Revoking a credential or a membership reaches open live-query sockets at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from tests.helpers import PASSWORD, create_org, signup
from tests.test_members_invitations import join
from tests.test_sync import TIMEOUT, connect, recv_for, subscribe


async def _closed_with(ws: websockets.ClientConnection, code: int) -> None:
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code


async def test_key_revocation_and_password_change_close_sockets(
    client: httpx.AsyncClient, live_url: str
) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    key = (
        await client.post(
            f"/v1/orgs/{org['id']}/api-keys",
            json={"name": "k", "role": "viewer"},
            headers=admin.headers,
        )
    ).json()
    async with connect(live_url, key["key"]) as ws:
        first = await subscribe(ws, "m", "members.list", orgId=org["id"])
        assert first["type"] == "result"
        await client.delete(f"/v1/orgs/{org['id']}/api-keys/{key['id']}", headers=admin.headers)
        await _closed_with(ws, 4401)

    other = (
        await client.post("/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    ).json()
    async with connect(live_url, other["token"]) as ws:
        assert (await subscribe(ws, "m", "members.list", orgId=org["id"]))["type"] == "result"
        changed = await client.post(
            "/v1/auth/password",
            json={"currentPassword": PASSWORD, "newPassword": "a new password"},
            headers=admin.headers,
        )
        assert changed.status_code == 204
        await _closed_with(ws, 4401)


async def test_members_list_follows_changes_and_removal_ends_access(
    client: httpx.AsyncClient, live_url: str
) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    bob = await join(client, admin, org["id"], "viewer")
    async with connect(live_url, bob.token) as ws:
        first = await subscribe(ws, "m", "members.list", orgId=org["id"])
        assert [m["role"] for m in first["value"]["items"]] == ["admin", "viewer"]
        await client.patch(
            f"/v1/orgs/{org['id']}/members/{bob.id}", json={"role": "editor"}, headers=admin.headers
        )
        changed = await recv_for(ws, "m")
        assert [m["role"] for m in changed["value"]["items"]] == ["admin", "editor"]
        await client.delete(f"/v1/orgs/{org['id']}/members/{bob.id}", headers=admin.headers)
        gone = await recv_for(ws, "m")
        assert gone["type"] == "error" and gone["error"]["code"] == "not_found"
