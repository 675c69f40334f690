"""Issue 12, items 12 and 13: plans are an instance admin's decision, and every refused 403
is in the org's audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from minibase.config import Settings
from minibase.context import AppContext
from minibase.services import instance_admins
from tests.flows_helpers import new_org
from tests.helpers import bearer, signup

BOSS = "Boss@Example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"instance_admins": f"someone@example.com, {BOSS}"})


async def audit_denials(
    client: httpx.AsyncClient, org_id: str, headers: dict[str, str]
) -> list[Any]:
    events = (await client.get(f"/v1/orgs/{org_id}/audit?limit=500", headers=headers)).json()
    return [e for e in events["items"] if e["outcome"] == "denied"]


async def test_org_admins_cannot_choose_their_plan(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    h = org.admin.headers
    created = await client.post("/v1/orgs", json={"name": "Rich", "plan": "enterprise"}, headers=h)
    assert created.status_code == 403 and created.json()["error"]["code"] == "forbidden"
    assert (
        await client.post("/v1/orgs", json={"name": "Free", "plan": "free"}, headers=h)
    ).status_code == 201
    for change in (
        {"billing": {"plan": "enterprise"}},
        {"settings": {"maxNodes": 2_001}},
        {"settings": {"maxFlows": 51}},
        {"settings": {"storageQuota": 100_000_001}},
    ):
        response = await client.patch(f"/v1/orgs/{org.id}", json=change, headers=h)
        assert response.status_code == 403, (change, response.text)
        assert response.json()["error"]["code"] == "forbidden"
    # Lowering a limit below the plan's is the org admin's to decide.
    lowered = await client.patch(
        f"/v1/orgs/{org.id}", json={"settings": {"maxNodes": 100, "maxFlows": 1}}, headers=h
    )
    assert lowered.status_code == 200, lowered.text
    org_body = lowered.json()
    assert org_body["billing"]["plan"] == "free" and org_body["settings"]["maxNodes"] == 100
    # A quota refusal is a 403 too, and is audited like every other.
    await org.create_flow("one")
    refused = await client.post(org.flows_url, json={"name": "two"}, headers=h)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "quota_exceeded"
    denied = await audit_denials(client, org.id, h)
    actions = [(e["action"], e["details"].get("code")) for e in denied]
    assert ("POST /v1/orgs/{orgId}/flows", "quota_exceeded") in [
        (e["resource"]["id"].replace(org.id, "{orgId}"), e["details"].get("code")) for e in denied
    ], actions
    assert sum(1 for e in denied if e["details"].get("code") == "forbidden") == 4


async def test_instance_admins_see_every_org_and_set_plans(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    orgs = [await new_org(client) for _ in range(3)]
    outsider = orgs[0].admin
    key = (
        await client.post(
            f"/v1/orgs/{orgs[0].id}/api-keys",
            json={"name": "k", "role": "admin"},
            headers=outsider.headers,
        )
    ).json()["key"]
    assert (await client.get("/v1/admin/orgs")).status_code == 401
    for headers in (outsider.headers, bearer(key)):
        for method, url in (
            ("GET", "/v1/admin/orgs"),
            ("GET", "/v1/admin/usage"),
            ("PATCH", f"/v1/admin/orgs/{orgs[0].id}"),
        ):
            response = await client.request(method, url, json={"plan": "pro"}, headers=headers)
            assert response.status_code == 404, (method, url, response.text)
    boss = await signup(client, "boss@example.COM")
    listed: list[str] = []
    cursor = ""
    while True:
        page = await client.get(f"/v1/admin/orgs?limit=2{cursor}", headers=boss.headers)
        assert page.status_code == 200, page.text
        listed += [o["id"] for o in page.json()["items"]]
        if not page.json()["nextCursor"]:
            break
        cursor = f"&cursor={page.json()['nextCursor']}"
    assert [o.id for o in orgs] == listed
    changed = await client.patch(
        f"/v1/admin/orgs/{orgs[1].id}", json={"plan": "enterprise"}, headers=boss.headers
    )
    assert changed.status_code == 200 and changed.json()["billing"]["plan"] == "enterprise"
    usage = await client.get(f"/v1/orgs/{orgs[1].id}/usage", headers=orgs[1].admin.headers)
    assert usage.json()["flows"]["limit"] is None
    events = (
        await client.get(f"/v1/orgs/{orgs[1].id}/audit", headers=orgs[1].admin.headers)
    ).json()["items"]
    assert events[0]["action"] == "org.plan_change"
    assert events[0]["details"] == {"from": "free", "to": "enterprise"}
    assert (
        await client.patch("/v1/admin/orgs/org_nope", json={"plan": "pro"}, headers=boss.headers)
    ).status_code == 404
    totals = (await client.get("/v1/admin/usage", headers=boss.headers)).json()
    assert totals["organizations"] == 3 and totals["users"] == 4
    # An org made by an instance admin may start on any plan.
    made = await client.post("/v1/orgs", json={"name": "P", "plan": "pro"}, headers=boss.headers)
    assert made.status_code == 201 and made.json()["billing"]["plan"] == "pro"

    # Grants take effect at once, and so do revocations.
    ctx: AppContext = app.state.ctx
    helper = await signup(client, "helper@example.com")
    assert (await client.get("/v1/admin/orgs", headers=helper.headers)).status_code == 404
    assert await instance_admins.grant(ctx.store, "HELPER@example.com", "test")
    assert (await client.get("/v1/admin/orgs", headers=helper.headers)).status_code == 200
    assert await instance_admins.revoke(ctx.store, "helper@example.com")
    assert (await client.get("/v1/admin/orgs", headers=helper.headers)).status_code == 404


async def test_every_admin_route_is_an_instance_admins_alone(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """The contract's Instance administration section, route by route: every
    ``/v1/admin`` route is a 404 to everyone else (an org admin, an admin API key), and
    ``minibase admin grant``/``revoke`` change that on the running server at once."""
    from tests.security.test_cli_admin import minibase

    spec = app.openapi()
    admin_ops = [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/admin/")
        for method in ops
    ]
    assert {
        ("GET", "/v1/admin/orgs"),
        ("PATCH", "/v1/admin/orgs/{orgId}"),
        ("GET", "/v1/admin/usage"),
        ("GET", "/v1/admin/backups"),
    } <= set(admin_ops)
    org = await new_org(client)
    key = (
        await client.post(
            f"/v1/orgs/{org.id}/api-keys",
            json={"name": "k", "role": "admin"},
            headers=org.admin.headers,
        )
    ).json()["key"]
    without = await client.post("/v1/orgs", json={"name": "No plan"}, headers=org.admin.headers)
    assert without.status_code == 201 and without.json()["billing"]["plan"] == "free"

    async def answers(headers: dict[str, str]) -> list[int]:
        statuses = []
        for method, path in admin_ops:
            url = path.replace("{orgId}", org.id)
            body = {"plan": "free"} if method == "PATCH" else None
            response = await client.request(method, url, json=body, headers=headers)
            if response.status_code == 404:
                assert response.json()["error"]["code"] == "not_found"
            statuses.append(response.status_code)
        return statuses

    for headers in (org.admin.headers, bearer(key)):
        assert set(await answers(headers)) == {404}
    # Granted from the command line while this server runs: effective at the next request.
    granted = await asyncio.to_thread(minibase, settings, "admin", "grant", org.admin.email)
    assert granted.returncode == 0, granted.stderr
    assert all(status == 200 for status in await answers(org.admin.headers))
    assert set(await answers(bearer(key))) == {404}  # an API key is never an instance admin
    revoked = await asyncio.to_thread(minibase, settings, "admin", "revoke", org.admin.email)
    assert revoked.returncode == 0, revoked.stderr
    assert set(await answers(org.admin.headers)) == {404}
