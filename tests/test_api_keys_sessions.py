"""API keys, password change and session expiry."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store.tables import sessions
from tests.helpers import PASSWORD, bearer, create_org, signup
from tests.test_http_basics import assert_error


async def test_api_key_lifecycle(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    other_org = await create_org(client, admin)
    base = f"/v1/orgs/{org['id']}/api-keys"
    created = await client.post(base, json={"name": "ci", "role": "editor"}, headers=admin.headers)
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["id"].startswith("key_") and key["key"].startswith("mb_key_")
    assert {"id", "name", "role", "key"} <= key.keys() and key["role"] == "editor"
    headers = bearer(key["key"])

    listed = (await client.get(base, headers=admin.headers)).json()
    assert listed["nextCursor"] is None
    (item,) = listed["items"]
    assert "key" not in item and item["id"] == key["id"] and item["name"] == "ci"
    assert item["lastUsedAt"] is None and isinstance(item["createdAt"], int)

    # The key works in its org, with its role ...
    assert (await client.get(f"/v1/orgs/{org['id']}", headers=headers)).status_code == 200
    assert_error(await client.get(base, headers=headers), 403, "forbidden")
    item = (await client.get(base, headers=admin.headers)).json()["items"][0]
    assert isinstance(item["lastUsedAt"], int)
    # ... and nowhere else: another org is a 404, user endpoints a 401.
    assert_error(await client.get(f"/v1/orgs/{other_org['id']}", headers=headers), 404, "not_found")
    assert_error(await client.get("/v1/me", headers=headers), 401, "unauthenticated")
    assert_error(
        await client.post("/v1/orgs", json={"name": "x"}, headers=headers), 401, "unauthenticated"
    )
    assert_error(
        await client.post(
            "/v1/auth/password",
            json={"currentPassword": PASSWORD, "newPassword": "x" * 12},
            headers=headers,
        ),
        401,
        "unauthenticated",
    )
    orgs = (await client.get("/v1/orgs", headers=headers)).json()
    assert [o["id"] for o in orgs["items"]] == [org["id"]]

    # Revocation is immediate.
    assert (await client.delete(f"{base}/{key['id']}", headers=admin.headers)).status_code == 204
    assert_error(await client.get(f"/v1/orgs/{org['id']}", headers=headers), 401, "unauthenticated")
    assert_error(
        await client.delete(f"{base}/{key['id']}", headers=admin.headers), 404, "not_found"
    )
    assert (await client.get(base, headers=admin.headers)).json()["items"] == []


async def test_admin_api_key_can_manage(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    base = f"/v1/orgs/{org['id']}/api-keys"
    key = (
        await client.post(base, json={"name": "root", "role": "admin"}, headers=admin.headers)
    ).json()
    child = await client.post(
        base, json={"name": "child", "role": "viewer"}, headers=bearer(key["key"])
    )
    assert child.status_code == 201
    assert_error(
        await client.post(base, json={"name": "", "role": "viewer"}, headers=admin.headers),
        422,
        "validation_error",
    )


async def test_password_change_ends_other_sessions(client: httpx.AsyncClient) -> None:
    user = await signup(client)
    other = (
        await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()["token"]
    assert_error(
        await client.post(
            "/v1/auth/password",
            json={"currentPassword": "wrong password", "newPassword": "new password 123"},
            headers=user.headers,
        ),
        422,
        "validation_error",
    )
    changed = await client.post(
        "/v1/auth/password",
        json={"currentPassword": PASSWORD, "newPassword": "new password 123"},
        headers=user.headers,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    assert_error(await client.get("/v1/me", headers=bearer(other)), 401, "unauthenticated")
    assert (
        await client.post("/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).status_code == 401
    third = await client.post(
        "/v1/auth/login", json={"email": user.email, "password": "new password 123"}
    )
    assert third.status_code == 200
    # endOtherSessions: false keeps them.
    kept = await client.post(
        "/v1/auth/password",
        json={
            "currentPassword": "new password 123",
            "newPassword": PASSWORD,
            "endOtherSessions": False,
        },
        headers=user.headers,
    )
    assert kept.status_code == 204
    assert (await client.get("/v1/me", headers=bearer(third.json()["token"]))).status_code == 200


async def test_expired_session_is_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await signup(client)
    ctx: AppContext = app.state.ctx
    async with ctx.store.global_(SYSTEM, write=True) as uow:
        await uow.execute(
            update(sessions).where(sessions.c.user_id == user.id).values(expires_at=now_ms() - 1)
        )
    assert_error(await client.get("/v1/me", headers=user.headers), 401, "unauthenticated")
