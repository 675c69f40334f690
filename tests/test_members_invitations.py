"""Members, invitations and the last-admin rule, end to end through the API."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from fastapi import FastAPI

from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.ids import now_ms
from minibase.store.tables import audit_events, invitations
from tests.helpers import PASSWORD, User, create_org, signup
from tests.test_http_basics import assert_error


def ctx_of(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


async def invite(
    client: httpx.AsyncClient, admin: User, org_id: str, email: str, role: str = "editor"
) -> dict[str, object]:
    response = await client.post(
        f"/v1/orgs/{org_id}/invitations",
        json={"email": email, "role": role},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def join(client: httpx.AsyncClient, admin: User, org_id: str, role: str) -> User:
    user = await signup(client)
    inv = await invite(client, admin, org_id, user.email, role)
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": inv["token"]}, headers=user.headers
    )
    assert accepted.status_code == 200, accepted.text
    return user


async def audit_actions(app: FastAPI, org_id: str) -> list[tuple[str, str]]:
    async with ctx_of(app).store.tenant(org_id, SYSTEM) as uow:
        rows = await uow.execute(
            uow.select(audit_events, audit_events.c.action, audit_events.c.outcome).order_by(
                audit_events.c.seq
            )
        )
        return [(r.action, r.outcome) for r in rows]


async def test_invitation_flow_and_members(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    bob = await signup(client)
    with caplog.at_level(logging.INFO, logger="minibase.delivery"):
        inv = await invite(client, admin, org["id"], bob.email.upper(), "viewer")
    assert inv["id"].startswith("inv_") and inv["token"].startswith("mb_inv_")
    assert inv["email"] == bob.email and inv["role"] == "viewer"
    assert inv["expiresAt"] > now_ms() + 6 * 86_400_000
    assert f"http://127.0.0.1:8000/invite#{inv['token']}" in caplog.text

    pending = (await client.get(f"/v1/orgs/{org['id']}/invitations", headers=admin.headers)).json()
    assert [i["id"] for i in pending["items"]] == [inv["id"]]
    assert "token" not in pending["items"][0] and pending["nextCursor"] is None

    # An API key is not a signed-in user.
    key = (
        await client.post(
            f"/v1/orgs/{org['id']}/api-keys",
            json={"name": "ci", "role": "admin"},
            headers=admin.headers,
        )
    ).json()
    assert_error(
        await client.post(
            "/v1/invitations/accept",
            json={"token": inv["token"]},
            headers={"Authorization": f"Bearer {key['key']}"},
        ),
        401,
        "unauthenticated",
    )
    # Someone else cannot use it, and learns only that it is not theirs.
    eve = await signup(client)
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": inv["token"]}, headers=eve.headers
        ),
        403,
        "forbidden",
    )

    accepted = await client.post(
        "/v1/invitations/accept", json={"token": inv["token"]}, headers=bob.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"organization": {"id": org["id"], "name": "Acme"}, "role": "viewer"}
    # Works once.
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": inv["token"]}, headers=bob.headers
        ),
        404,
        "not_found",
    )
    assert (await client.get(f"/v1/orgs/{org['id']}/invitations", headers=admin.headers)).json()[
        "items"
    ] == []

    members = (await client.get(f"/v1/orgs/{org['id']}/members", headers=bob.headers)).json()
    assert [(m["user"]["id"], m["role"]) for m in members["items"]] == [
        (admin.id, "admin"),
        (bob.id, "viewer"),
    ]
    assert members["items"][1]["user"] == {"id": bob.id, "email": bob.email, "name": "Test"}

    # Role change applies to the very next request.
    assert_error(
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": "x@example.com", "role": "viewer"},
            headers=bob.headers,
        ),
        403,
        "forbidden",
    )
    patched = await client.patch(
        f"/v1/orgs/{org['id']}/members/{bob.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert patched.status_code == 200 and patched.json()["role"] == "admin"
    assert (
        await client.get(f"/v1/orgs/{org['id']}/invitations", headers=bob.headers)
    ).status_code == 200
    await client.patch(
        f"/v1/orgs/{org['id']}/members/{bob.id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert_error(
        await client.get(f"/v1/orgs/{org['id']}/invitations", headers=bob.headers), 403, "forbidden"
    )

    # A viewer may not remove others, but may leave.
    assert_error(
        await client.delete(f"/v1/orgs/{org['id']}/members/{admin.id}", headers=bob.headers),
        403,
        "forbidden",
    )
    assert (
        await client.delete(f"/v1/orgs/{org['id']}/members/{bob.id}", headers=bob.headers)
    ).status_code == 204
    assert_error(await client.get(f"/v1/orgs/{org['id']}", headers=bob.headers), 404, "not_found")

    actions = await audit_actions(app, org["id"])
    for expected in [
        ("invitation.create", "success"),
        ("api_key.create", "success"),
        ("invitation.accept", "denied"),
        ("invitation.accept", "success"),
        ("member.role_change", "success"),
        ("member.leave", "success"),
    ]:
        assert expected in actions
    # Tokens never reach the audit log.
    async with ctx_of(app).store.tenant(org["id"], SYSTEM) as uow:
        dumped = repr((await uow.execute(uow.select(audit_events))).all())
    assert inv["token"] not in dumped and key["key"] not in dumped


async def test_invitation_expired_revoked_and_member_already(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    bob = await signup(client)
    expired = await invite(client, admin, org["id"], bob.email)
    async with ctx_of(app).store.tenant(org["id"], SYSTEM, write=True) as uow:
        await uow.execute(
            uow.update(invitations)
            .where(invitations.c.id == expired["id"])
            .values(expires_at=now_ms() - 1)
        )
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": expired["token"]}, headers=bob.headers
        ),
        404,
        "not_found",
    )
    assert (await client.get(f"/v1/orgs/{org['id']}/invitations", headers=admin.headers)).json()[
        "items"
    ] == []

    revoked = await invite(client, admin, org["id"], bob.email)
    assert (
        await client.delete(
            f"/v1/orgs/{org['id']}/invitations/{revoked['id']}", headers=admin.headers
        )
    ).status_code == 204
    assert_error(
        await client.delete(
            f"/v1/orgs/{org['id']}/invitations/{revoked['id']}", headers=admin.headers
        ),
        404,
        "not_found",
    )
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": revoked["token"]}, headers=bob.headers
        ),
        404,
        "not_found",
    )
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": "mb_inv_nope"}, headers=bob.headers
        ),
        404,
        "not_found",
    )

    # Inviting a member's address is a conflict; so is accepting as a member already.
    assert_error(
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": admin.email, "role": "viewer"},
            headers=admin.headers,
        ),
        409,
        "conflict",
    )
    first = await invite(client, admin, org["id"], bob.email)
    second = await invite(client, admin, org["id"], bob.email)
    assert (
        await client.post(
            "/v1/invitations/accept", json={"token": first["token"]}, headers=bob.headers
        )
    ).status_code == 200
    assert_error(
        await client.post(
            "/v1/invitations/accept", json={"token": second["token"]}, headers=bob.headers
        ),
        409,
        "conflict",
    )
    assert_error(
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": "not-an-email", "role": "viewer"},
            headers=admin.headers,
        ),
        422,
        "validation_error",
    )
    assert_error(
        await client.post(
            f"/v1/orgs/{org['id']}/invitations",
            json={"email": "a@example.com", "role": "owner"},
            headers=admin.headers,
        ),
        422,
        "validation_error",
    )


async def test_last_admin_is_protected(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    base = f"/v1/orgs/{org['id']}/members"
    assert_error(
        await client.patch(f"{base}/{admin.id}", json={"role": "editor"}, headers=admin.headers),
        409,
        "conflict",
    )
    assert_error(await client.delete(f"{base}/{admin.id}", headers=admin.headers), 409, "conflict")
    other = await join(client, admin, org["id"], "admin")
    # Now there are two: one may step down, then the other is last again.
    assert (
        await client.patch(f"{base}/{admin.id}", json={"role": "editor"}, headers=admin.headers)
    ).status_code == 200
    assert_error(await client.delete(f"{base}/{other.id}", headers=other.headers), 409, "conflict")
    assert_error(
        await client.patch(f"{base}/{admin.id}", json={"role": "admin"}, headers=admin.headers),
        403,
        "forbidden",
    )
    assert (await client.delete(f"{base}/{admin.id}", headers=other.headers)).status_code == 204
    assert_error(
        await client.patch(f"{base}/usr_unknown", json={"role": "viewer"}, headers=other.headers),
        404,
        "not_found",
    )


async def test_members_pagination(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    for _ in range(4):
        await join(client, admin, org["id"], "viewer")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(f"/v1/orgs/{org['id']}/members", params=params, headers=admin.headers)
        ).json()
        seen += [m["user"]["id"] for m in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 and seen[0] == admin.id
    assert_error(
        await client.get(
            f"/v1/orgs/{org['id']}/members", params={"limit": "501"}, headers=admin.headers
        ),
        422,
        "validation_error",
    )
    assert_error(
        await client.get(
            f"/v1/orgs/{org['id']}/members", params={"cursor": "!!"}, headers=admin.headers
        ),
        422,
        "validation_error",
    )


async def test_two_admins_demoting_each_other_at_once(client: httpx.AsyncClient) -> None:
    first = await signup(client)
    org = await create_org(client, first)
    second = await join(client, first, org["id"], "admin")
    base = f"/v1/orgs/{org['id']}/members"
    responses = await asyncio.gather(
        client.patch(f"{base}/{second.id}", json={"role": "viewer"}, headers=first.headers),
        client.patch(f"{base}/{first.id}", json={"role": "viewer"}, headers=second.headers),
    )
    assert sorted(r.status_code for r in responses) in ([200, 403], [200, 409])
    members = (await client.get(base, headers=first.headers)).json()["items"]
    assert [m["role"] for m in members].count("admin") == 1


async def test_concurrent_accepts_work_once(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    bob = await signup(client)
    inv = await invite(client, admin, org["id"], bob.email)
    responses = await asyncio.gather(
        *[
            client.post("/v1/invitations/accept", json={"token": inv["token"]}, headers=bob.headers)
            for _ in range(3)
        ]
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses.count(200) == 1, statuses
    assert set(statuses[1:]) <= {404, 409}


async def test_auth_events_reach_the_audit_log(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    bad = await client.post(
        "/v1/auth/login", json={"email": admin.email, "password": "wrong password"}
    )
    assert bad.status_code == 401
    ok = await client.post("/v1/auth/login", json={"email": admin.email, "password": PASSWORD})
    await client.post("/v1/auth/logout", headers={"Authorization": f"Bearer {ok.json()['token']}"})
    actions = await audit_actions(app, org["id"])
    assert actions[-3:] == [
        ("auth.login", "failure"),
        ("auth.login", "success"),
        ("auth.logout", "success"),
    ]
