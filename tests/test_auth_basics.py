"""Signup, login, logout, /v1/me and organizations, end to end through the API."""

from __future__ import annotations

import httpx

from tests.helpers import PASSWORD, create_org, signup
from tests.test_http_basics import assert_error


async def test_signup_login_me_logout(client: httpx.AsyncClient) -> None:
    user = await signup(client, "Alice@Example.com")
    assert user.token.startswith("mb_sess_")
    me = (await client.get("/v1/me", headers=user.headers)).json()
    assert me["user"] == {
        "id": user.id,
        "email": "alice@example.com",
        "name": "Test",
        "emailVerified": False,
    }
    assert me["memberships"] == []

    login = await client.post(
        "/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    token2 = login.json()["token"]
    assert token2 != user.token

    assert (await client.post("/v1/auth/logout", headers=user.headers)).status_code == 204
    assert_error(await client.get("/v1/me", headers=user.headers), 401, "unauthenticated")
    other = await client.get("/v1/me", headers={"Authorization": f"Bearer {token2}"})
    assert other.status_code == 200


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient) -> None:
    await signup(client, "bob@example.com")
    wrong = await client.post(
        "/v1/auth/login", json={"email": "bob@example.com", "password": "not the password"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"email": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_signup_validation(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.post("/v1/auth/signup", json={"email": "x@example.com", "password": "short"}),
        422,
        "validation_error",
    )
    assert_error(
        await client.post(
            "/v1/auth/signup", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
        "bad_request",
    )
    assert_error(
        await client.post(
            "/v1/auth/signup",
            content=b"email=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        400,
        "bad_request",
    )
    await signup(client, "dup@example.com")
    assert_error(
        await client.post(
            "/v1/auth/signup", json={"email": "DUP@example.com", "password": PASSWORD}
        ),
        409,
        "conflict",
    )


async def test_long_passwords_are_not_truncated(client: httpx.AsyncClient) -> None:
    password = "p" * 300
    await client.post("/v1/auth/signup", json={"email": "long@example.com", "password": password})
    almost = await client.post(
        "/v1/auth/login", json={"email": "long@example.com", "password": "p" * 299 + "q"}
    )
    assert almost.status_code == 401
    ok = await client.post(
        "/v1/auth/login", json={"email": "long@example.com", "password": password}
    )
    assert ok.status_code == 200


async def test_missing_or_bad_token(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/me"), 401, "unauthenticated")
    assert_error(
        await client.get("/v1/me", headers={"Authorization": "Bearer mb_sess_nope"}),
        401,
        "unauthenticated",
    )


async def test_org_lifecycle(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    org = await create_org(client, admin)
    assert org["id"].startswith("org_")
    assert org["settings"] == {
        "maxNodes": None,
        "maxFlows": None,
        "allowedNodeTypes": None,
        "storageQuota": None,
        "commentsBy": None,
        "retention": None,
    }
    assert org["billing"]["plan"] == "free"
    assert org["billing"]["usageMetrics"] == {"nodesUsed": 0, "flowsCreated": 0, "storageUsed": 0}
    listed = (await client.get("/v1/orgs", headers=admin.headers)).json()
    assert [o["id"] for o in listed["items"]] == [org["id"]]
    assert listed["nextCursor"] is None

    patched = await client.patch(
        f"/v1/orgs/{org['id']}",
        json={"name": "Acme 2", "settings": {"maxFlows": 3}, "billing": {"plan": "free"}},
        headers=admin.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Acme 2"
    assert patched.json()["settings"]["maxFlows"] == 3
    assert patched.json()["billing"]["plan"] == "free"  # plans: tests/security

    me = (await client.get("/v1/me", headers=admin.headers)).json()
    assert me["memberships"] == [
        {"organization": {"id": org["id"], "name": "Acme 2"}, "role": "admin"}
    ]

    stranger = await signup(client)
    assert_error(
        await client.get(f"/v1/orgs/{org['id']}", headers=stranger.headers), 404, "not_found"
    )
    assert_error(
        await client.get("/v1/orgs/org_doesnotexist", headers=stranger.headers), 404, "not_found"
    )

    assert (await client.delete(f"/v1/orgs/{org['id']}", headers=admin.headers)).status_code == 204
    assert_error(await client.get(f"/v1/orgs/{org['id']}", headers=admin.headers), 404, "not_found")


async def test_org_list_pages(client: httpx.AsyncClient) -> None:
    admin = await signup(client)
    created = [(await create_org(client, admin, name=f"o{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/orgs", params=params, headers=admin.headers)).json()
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and sorted(seen) == sorted(created)
