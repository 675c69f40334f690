"""Authorization, generated from the app's own route table.

* every route under ``/v1/orgs/{orgId}`` declares a ``require(Action)`` dependency;
* IDOR: a member of org A using org B's ids (B's org id, or A's org id with B's object ids)
  gets the same 404 as for random ids, and nothing in org B changes;
* roles: each role, as a user and as an API key, gets exactly what ``PERMISSIONS`` says
  (403 ``forbidden`` or not);
* no ``/v1`` route but signup, login and email verification answers without a token
  (401), and API keys get 401 from user-only routes.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from minibase.api.deps import current_user
from minibase.config import Settings
from minibase.context import AppContext
from minibase.domain.principal import SYSTEM
from minibase.domain.roles import Action, Role, is_allowed
from minibase.store.tables import organizations, tenant_tables
from tests.helpers import User, bearer, create_org, signup
from tests.test_http_basics import assert_error


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No throttling: the sweeps send every route several requests per token, faster
    than the default 100 a second on a quick machine (429 is not what they test)."""
    return settings.model_copy(update={"rate_limit_per_second": 1_000_000})


ORG_PREFIX = "/v1/orgs/{orgId}"
PUBLIC = {
    ("POST", "/v1/auth/signup"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/verify-email"),
    ("POST", "/v1/auth/resend-verification"),
    # Authenticated by its Standard Webhooks signature, not a token (tests/engine/test_webhooks.py).
    ("POST", "/v1/hooks/{webhookId}"),
}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")

# Minimal valid bodies (the route list itself always comes from the app).
BODIES: dict[tuple[str, str], Callable[[], Any]] = {
    ("PATCH", "/v1/orgs/{orgId}"): lambda: {"name": "Renamed"},
    ("PATCH", "/v1/orgs/{orgId}/members/{userId}"): lambda: {"role": "viewer"},
    ("POST", "/v1/orgs/{orgId}/invitations"): lambda: {
        "email": f"inv-{secrets.token_hex(4)}@example.com",
        "role": "viewer",
    },
    ("POST", "/v1/orgs/{orgId}/api-keys"): lambda: {"name": "k", "role": "viewer"},
    ("POST", "/v1/orgs/{orgId}/flows"): lambda: {"name": "f", "nodes": [], "edges": []},
    ("PUT", "/v1/orgs/{orgId}/flows/{flowId}"): lambda: {
        "name": "f",
        "nodes": [],
        "edges": [],
        "baseVersion": 1,
    },
    ("PATCH", "/v1/orgs/{orgId}/flows/{flowId}"): lambda: {"ops": []},
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/outputs"): lambda: {
        "nodeId": "n1",
        "output": {"v": 1},
        "computeTime": 1,
    },
    ("POST", "/v1/invitations/accept"): lambda: {"token": "mb_inv_x"},
    ("POST", "/v1/auth/password"): lambda: {"currentPassword": "x" * 10, "newPassword": "y" * 10},
    ("POST", "/v1/orgs"): lambda: {"name": "x"},
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/comments"): lambda: {"body": "hi"},
    ("PATCH", "/v1/orgs/{orgId}/flows/{flowId}/comments/{commentId}"): lambda: {"body": "hi"},
    ("POST", "/v1/orgs/{orgId}/templates/{templateId}/instantiate"): lambda: {"name": "t"},
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/copy"): lambda: {"targetOrgId": "org_x"},
}


def _walk(dependant: Dependant) -> list[Dependant]:
    found = [dependant]
    for sub in dependant.dependencies:
        found += _walk(sub)
    return found


def action_of(route: Any) -> Action | None:
    actions = [getattr(d.call, "action", None) for d in _walk(route.dependant)]
    declared = [a for a in actions if isinstance(a, Action)]
    assert len(declared) <= 1, f"{route.path} declares several actions"
    return declared[0] if declared else None


def needs_user(route: Any) -> bool:
    return any(d.call is current_user for d in _walk(route.dependant))


def _effective_routes(app: FastAPI) -> list[Any]:
    """Every HTTP route as served (FastAPI >= 0.165 keeps included routers unflattened)."""
    found: list[Any] = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "effective_route_contexts"):
            found += [c for c in route.effective_route_contexts() if c.methods]
    return found


def http_routes(app: FastAPI) -> list[tuple[str, str, Any]]:
    routes = []
    for route in _effective_routes(app):
        for dependant in _walk(route.dependant):
            for param in dependant.path_params:
                if param.field_info.annotation is int:
                    _INT_PARAMS.add(param.alias)
        for method in sorted(set(route.methods) - {"HEAD"}):
            routes.append((method, route.path, route))
    return routes


def org_routes(app: FastAPI) -> list[tuple[str, str, Action]]:
    found = []
    for method, path, route in http_routes(app):
        if path == ORG_PREFIX or path.startswith(ORG_PREFIX + "/"):
            action = action_of(route)
            assert action is not None, f"{method} {path} has no require(Action) dependency"
            found.append((method, path, action))
    # Destructive calls on the org itself go last, so everything else runs first.
    found.sort(key=lambda r: (r[0] == "DELETE" and r[1] == ORG_PREFIX, r[1], r[0]))
    return found


# Integer path parameters (versions) get "1", so the request reaches the lookup instead of
# failing validation; every other unknown parameter gets a random id.
_INT_PARAMS: set[str] = set()


def fill(path: str, values: dict[str, str]) -> str:
    """``path`` with ``values`` filled in; any other parameter gets a plausible value."""

    def value(name: str) -> str:
        if name in values:
            return values[name]
        return "1" if name in _INT_PARAMS else f"x_{secrets.token_hex(8)}"

    return _PARAM.sub(lambda m: value(m.group(1)), path)


def params_of(path: str) -> list[str]:
    return [m.group(1) for m in _PARAM.finditer(path)]


async def call(
    client: httpx.AsyncClient, method: str, template: str, path: str, headers: dict[str, str]
) -> httpx.Response:
    body = BODIES.get((method, template), dict)()
    if method in ("GET", "DELETE"):
        return await client.request(method, path, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


async def invite_as(client: httpx.AsyncClient, owner: User, org_id: str, role: str) -> User:
    member = await signup(client)
    inv = (
        await client.post(
            f"/v1/orgs/{org_id}/invitations",
            json={"email": member.email, "role": role},
            headers=owner.headers,
        )
    ).json()
    accepted = await client.post(
        "/v1/invitations/accept", json={"token": inv["token"]}, headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text
    return member


async def api_key(client: httpx.AsyncClient, owner: User, org_id: str, role: str) -> str:
    response = await client.post(
        f"/v1/orgs/{org_id}/api-keys", json={"name": role, "role": role}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def snapshot(app: FastAPI, org_id: str) -> dict[str, list[str]]:
    ctx: AppContext = app.state.ctx
    dump: dict[str, list[str]] = {}
    async with ctx.store.tenant(org_id, SYSTEM) as uow:
        for table in [organizations, *tenant_tables()]:
            rows = (await uow.execute(uow.select(table))).all()
            dump[table.name] = sorted(repr(tuple(r)) for r in rows)
    return dump


def test_every_org_route_declares_an_action(app: FastAPI) -> None:
    routes = org_routes(app)
    assert len(routes) >= 10
    assert {a for _, _, a in routes} >= {Action.MEMBERS_MANAGE, Action.API_KEYS_MANAGE}


@pytest.mark.parametrize("kind", ["user", "api_key"])
@pytest.mark.parametrize("role", [r.value for r in Role])
async def test_role_matrix(app: FastAPI, client: httpx.AsyncClient, role: str, kind: str) -> None:
    owner = await signup(client)
    org = await create_org(client, owner)
    if kind == "user":
        headers = (await invite_as(client, owner, org["id"], role)).headers
    else:
        headers = bearer(await api_key(client, owner, org["id"], role))
    wrong: list[str] = []
    for method, template, action in org_routes(app):
        response = await call(
            client, method, template, fill(template, {"orgId": org["id"]}), headers
        )
        allowed = is_allowed(Role(role), action)
        is_json = response.headers.get("content-type", "").startswith("application/json")
        code = response.json().get("error", {}).get("code") if is_json else None
        denied = response.status_code == 403 and code == "forbidden"
        if allowed == denied or response.status_code == 401:
            wrong.append(f"{method} {template} ({action}) -> {response.status_code} {code}")
    assert not wrong, f"{kind} {role}: " + "; ".join(wrong)


async def test_idor_other_orgs_ids_are_404_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    attacker = await signup(client)
    org_a = await create_org(client, attacker)
    attacker_key = bearer(await api_key(client, attacker, org_a["id"], "admin"))

    victim = await signup(client)
    org_b = await create_org(client, victim)
    member_b = await invite_as(client, victim, org_b["id"], "editor")
    invitation_b = (
        await client.post(
            f"/v1/orgs/{org_b['id']}/invitations",
            json={"email": "pending@example.com", "role": "viewer"},
            headers=victim.headers,
        )
    ).json()
    key_b = (
        await client.post(
            f"/v1/orgs/{org_b['id']}/api-keys",
            json={"name": "b", "role": "admin"},
            headers=victim.headers,
        )
    ).json()
    ids_b: dict[str, str] = {
        "userId": member_b.id,
        "invitationId": invitation_b["id"],
        "keyId": key_b["id"],
    }
    routes = org_routes(app)
    if any(t == f"{ORG_PREFIX}/flows" and m == "POST" for m, t, _ in routes):
        flow = await client.post(
            f"/v1/orgs/{org_b['id']}/flows",
            json={"name": "secret", "nodes": [], "edges": []},
            headers=victim.headers,
        )
        assert flow.status_code == 201, flow.text
        ids_b["flowId"] = flow.json()["id"]

    before = await snapshot(app, org_b["id"])
    problems: list[str] = []
    for method, template, _ in routes:
        for who, headers in (("session", attacker.headers), ("api key", attacker_key)):
            in_b = await call(
                client, method, template, fill(template, {**ids_b, "orgId": org_b["id"]}), headers
            )
            random_org_id = f"org_{secrets.token_hex(8)}"
            random_org = await call(
                client, method, template, fill(template, {**ids_b, "orgId": random_org_id}), headers
            )
            if in_b.status_code != 404 or in_b.json() != random_org.json():
                problems.append(f"{who} {method} {template} in B -> {in_b.status_code}")
            if len(params_of(template)) > 1 and not (method == "DELETE" and template == ORG_PREFIX):
                # A's own org id with B's object ids: as unknown as random object ids.
                cross = await call(
                    client,
                    method,
                    template,
                    fill(template, {**ids_b, "orgId": org_a["id"]}),
                    headers,
                )
                random_ids = await call(
                    client, method, template, fill(template, {"orgId": org_a["id"]}), headers
                )
                if (cross.status_code, cross.json().get("error", {}).get("code")) != (
                    random_ids.status_code,
                    random_ids.json().get("error", {}).get("code"),
                ) or cross.status_code != 404:
                    problems.append(f"{who} {method} {template} A+B ids -> {cross.status_code}")
    assert not problems, "; ".join(problems)
    assert await snapshot(app, org_b["id"]) == before


async def test_no_v1_route_without_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    problems = []
    for method, template, _ in http_routes(app):
        if not template.startswith("/v1") or (method, template) in PUBLIC:
            continue
        for headers in ({}, bearer("mb_sess_forged"), bearer("mb_key_forged"), bearer("x")):
            response = await call(client, method, template, fill(template, {}), headers)
            if response.status_code != 401:
                problems.append(f"{method} {template} {headers} -> {response.status_code}")
            else:
                assert_error(response, 401, "unauthenticated")
    assert not problems, "; ".join(problems)


async def test_api_keys_cannot_use_user_routes(app: FastAPI, client: httpx.AsyncClient) -> None:
    owner = await signup(client)
    org = await create_org(client, owner)
    headers = bearer(await api_key(client, owner, org["id"], "admin"))
    user_routes = [(m, t) for m, t, r in http_routes(app) if needs_user(r)]
    assert ("GET", "/v1/me") in user_routes and ("POST", "/v1/invitations/accept") in user_routes
    for method, template in user_routes:
        response = await call(client, method, template, fill(template, {}), headers)
        assert_error(response, 401, "unauthenticated")
