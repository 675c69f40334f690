"""Identity changes are published on the bus after commit (live queries, socket revocation)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from minibase.context import AppContext
from minibase.domain.events import Event
from tests.helpers import PASSWORD, bearer, create_org, signup
from tests.test_members_invitations import join


async def test_member_and_credential_events(app: FastAPI, client: httpx.AsyncClient) -> None:
    ctx: AppContext = app.state.ctx
    seen: list[Event] = []
    arrived = asyncio.Condition()

    async def collect(event: Event) -> None:
        async with arrived:
            seen.append(event)
            arrived.notify_all()

    ctx.bus.subscribe(collect)
    admin = await signup(client)
    org = await create_org(client, admin)
    bob = await join(client, admin, org["id"], "viewer")
    await client.patch(
        f"/v1/orgs/{org['id']}/members/{bob.id}", json={"role": "editor"}, headers=admin.headers
    )
    await client.delete(f"/v1/orgs/{org['id']}/members/{bob.id}", headers=admin.headers)
    key = (
        await client.post(
            f"/v1/orgs/{org['id']}/api-keys",
            json={"name": "k", "role": "viewer"},
            headers=admin.headers,
        )
    ).json()
    await client.delete(f"/v1/orgs/{org['id']}/api-keys/{key['id']}", headers=admin.headers)
    second = (
        await client.post("/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    ).json()
    await client.post(
        "/v1/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "another password"},
        headers=admin.headers,
    )
    await client.post("/v1/auth/logout", headers=admin.headers)
    assert (await client.get("/v1/me", headers=bearer(second["token"]))).status_code == 401

    # The bus delivers after commit, from its own task: wait for the last event to arrive.
    def all_arrived() -> bool:
        return sum(e.kind == "credentials" for e in seen) >= 3

    async with arrived:
        await asyncio.wait_for(arrived.wait_for(all_arrived), 5)
    members = [(e.kind, e.ids, e.extra.get("change")) for e in seen if e.kind == "members"]
    assert members == [
        ("members", (bob.id,), "joined"),
        ("members", (bob.id,), "role"),
        ("members", (bob.id,), "removed"),
    ]
    credentials = [(e.org_id, e.extra["type"]) for e in seen if e.kind == "credentials"]
    assert credentials == [(org["id"], "api_key"), ("*", "session"), ("*", "session")]
    assert next(e for e in seen if e.kind == "credentials").ids == (key["id"],)
