"""Issue 12, items 4 and 5 over the whole route table, on SQLite and on PostgreSQL.

The route list comes from the OpenAPI document (``tests/test_openapi.py`` holds it equal
to the routes served), so a route added later is covered without editing this file,
except for a body that reaches its handler (``BODIES``: a route with a JSON body and no
entry fails the test). For every ``/v1`` route:

- a NUL character (``%00``) in any path parameter: 404 ``not_found``;
- a NUL character in any query parameter: 422 ``validation_error``;
- an integer path parameter (a version) beyond 2**31 - 1, an integer query parameter
  beyond 2**63 - 1 (10**30 as well): 422;
- in a valid body (answered without 422 first, so it reaches the handler), each string
  turned into one holding a NUL character or a lone surrogate, each integer turned into
  one beyond 64 bits, and the body nested 300 levels deep: 422 ``validation_error``.

And ``/v1/sync`` answers every such frame with an ``error`` frame and stays open.
Every answer is checked for its exact status, so both databases answer alike.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI

from minibase.config import Settings
from tests.engine.helpers import e, n
from tests.flows_helpers import new_org
from tests.helpers import PASSWORD, User, signup
from tests.security.test_input import assert_error
from tests.together_helpers import add_member

ADMIN_EMAIL = "route-table-admin@example.com"
NUL = "\u0000"
SURROGATE = "\ud800"
BIG_INTS = (2**64, 10**30, -(2**63) - 1)
# Versions are 32-bit columns; times and limits 64-bit ones.
BIG_PARAMS = ("2147483648", "9223372036854775808", "1" + "0" * 30)
BIG_QUERY_PARAMS = BIG_PARAMS[1:]
_PARAM = re.compile(r"{(\w+)}")
# Routes whose body is not JSON (a zip archive streamed to the importer).
NOT_JSON = {("POST", "/v1/orgs/import")}
# Base bodies that are not sent as they are (they would end the caller's session).
NOT_SENT_AS_IS = {("POST", "/v1/auth/password")}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "instance_admins": ADMIN_EMAIL,
            "rate_limit_per_second": 100_000,
            # Event webhooks point at loopback here (nothing leaves the machine).
            "webhook_allow_private": True,
        }
    )


@dataclass
class World:
    """One of each object, so that every path parameter names something real."""

    admin: User
    member: User
    ids: dict[str, str] = field(default_factory=dict)
    template_file: dict[str, Any] = field(default_factory=dict)

    def path(self, template: str, **override: str) -> str:
        values = {**self.ids, **override}
        return _PARAM.sub(lambda m: values.get(m.group(1), "1"), template)


async def make_world(client: httpx.AsyncClient) -> World:
    admin = await signup(client, ADMIN_EMAIL)
    org_response = await client.post("/v1/orgs", json={"name": "Table"}, headers=admin.headers)
    assert org_response.status_code == 201, org_response.text
    org_id = org_response.json()["id"]
    member = await add_member(client, admin, org_id, "viewer")
    h = admin.headers

    async def made(method: str, url: str, body: Any = None, status: int = 201) -> Any:
        response = await client.request(method, url, json=body, headers=h)
        assert response.status_code == status, (url, response.text)
        return response.json()

    org = f"/v1/orgs/{org_id}"
    flow = await made(
        "POST",
        f"{org}/flows",
        {
            "name": "F",
            "nodes": [n("a", "constant", value={"x": 1}), n("out", "output")],
            "edges": [e("a", "out")],
        },
    )
    flows = f"{org}/flows/{flow['id']}"
    comment = await made("POST", f"{flows}/comments", {"body": "hello", "nodeId": "a"})
    task = await made("POST", f"{org}/tasks", {"title": "t"})
    template = await made("POST", f"{org}/templates", {"flowId": flow["id"], "name": "T"})
    template_file = await made("GET", f"{org}/templates/{template['id']}/export", status=200)
    dashboard = await made("POST", f"{org}/dashboards", {"name": "D"})
    schedule = await made("POST", f"{flows}/schedules", {"cron": "@yearly", "enabled": False})
    invitation = await made(
        "POST", f"{org}/invitations", {"email": "invitee@example.com", "role": "viewer"}
    )
    key = await made("POST", f"{org}/api-keys", {"name": "k", "role": "viewer"})
    run = await made("POST", f"{flows}/runs", {}, status=202)
    webhook = await made("POST", f"{flows}/webhooks", {"name": "W"})
    return World(
        admin=admin,
        member=member,
        ids={
            "orgId": org_id,
            "flowId": flow["id"],
            "userId": member.id,
            "commentId": comment["id"],
            "taskId": task["id"],
            "templateId": template["id"],
            "dashboardId": dashboard["id"],
            "scheduleId": schedule["id"],
            "invitationId": invitation["id"],
            "keyId": key["id"],
            "runId": run["id"],
            "webhookId": webhook["id"],
            "webhookSecret": webhook["secret"],
            "version": "1",
            "a": "1",
            "b": "1",
        },
        template_file=template_file,
    )


Body = Callable[[World], Any]
_count = iter(range(1_000_000))


def _unique(prefix: str) -> str:
    return f"{prefix}-{next(_count)}"


# A valid body for every route that takes JSON: valid, so that each mutation below is the
# only thing wrong with it. (Strings are mutated one by one, so names stay unique.)
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/auth/signup"): lambda w: {
        "email": f"{_unique('new')}@example.com",
        "password": PASSWORD,
        "name": "New",
    },
    ("POST", "/v1/auth/login"): lambda w: {"email": ADMIN_EMAIL, "password": PASSWORD},
    ("POST", "/v1/auth/verify-email"): lambda w: {"token": "mb_ver_unknown"},
    ("POST", "/v1/auth/resend-verification"): lambda w: {"email": ADMIN_EMAIL},
    ("POST", "/v1/auth/password"): lambda w: {
        "currentPassword": PASSWORD,
        "newPassword": PASSWORD + " new",
        "endOtherSessions": False,
    },
    ("PATCH", "/v1/me"): lambda w: {"notificationEmails": {"mention": True}},
    ("POST", "/v1/orgs"): lambda w: {"name": "Another", "plan": "free"},
    ("PATCH", "/v1/orgs/{orgId}"): lambda w: {
        "name": "Renamed",
        "settings": {
            "maxNodes": 100,
            "maxFlows": 40,
            "storageQuota": 1_000_000,
            "allowedNodeTypes": None,
            "retention": {"outputsDays": 30, "runsDays": 30, "versionsDays": 30},
        },
    },
    ("PATCH", "/v1/orgs/{orgId}/members/{userId}"): lambda w: {"role": "viewer"},
    ("POST", "/v1/orgs/{orgId}/invitations"): lambda w: {
        "email": f"{_unique('inv')}@example.com",
        "role": "viewer",
    },
    ("POST", "/v1/invitations/accept"): lambda w: {"token": "mb_inv_unknown"},
    ("POST", "/v1/orgs/{orgId}/api-keys"): lambda w: {"name": "key", "role": "viewer"},
    ("POST", "/v1/orgs/{orgId}/flows"): lambda w: {
        "name": "flow",
        "nodes": [n("c", "constant", value={"x": 1, "label": "c"})],
        "edges": [],
    },
    ("PUT", "/v1/orgs/{orgId}/flows/{flowId}"): lambda w: {
        "name": "F",
        "nodes": [n("a", "constant", value={"x": 2}), n("out", "output")],
        "edges": [e("a", "out")],
        "baseVersion": 1,
    },
    ("PATCH", "/v1/orgs/{orgId}/flows/{flowId}"): lambda w: {
        "ops": [
            {"op": "updateNode", "id": "a", "set": {"data": {"value": {"x": 3}}}},
            {"op": "rename", "name": "F"},
        ]
    },
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/outputs"): lambda w: {
        "nodeId": "a",
        "output": {"value": 7, "text": "seven"},
        "computeTime": 5,
    },
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/comments"): lambda w: {
        "body": "a comment",
        "nodeId": "a",
        "parentId": w.ids["commentId"],
    },
    ("PATCH", "/v1/orgs/{orgId}/flows/{flowId}/comments/{commentId}"): lambda w: {"body": "edited"},
    ("POST", "/v1/notifications/read"): lambda w: {"ids": ["ntf_unknown"]},
    ("POST", "/v1/orgs/{orgId}/tasks"): lambda w: {
        "title": "task",
        "description": "what to do",
        "flowId": w.ids["flowId"],
        "nodeId": "a",
        "assigneeId": w.admin.id,
        "dueAt": 1_900_000_000_000,
    },
    ("PATCH", "/v1/orgs/{orgId}/tasks/{taskId}"): lambda w: {
        "title": "task",
        "dueAt": 1_900_000_000_000,
        "status": "in_progress",
    },
    ("POST", "/v1/orgs/{orgId}/templates"): lambda w: {
        "name": _unique("template"),
        "description": "d",
        "tags": ["etl"],
        "flow": {"nodes": [n("c", "constant", value={"x": 1})], "edges": []},
    },
    ("POST", "/v1/orgs/{orgId}/templates/import"): lambda w: {
        **w.template_file,
        "name": _unique("imported"),
    },
    ("POST", "/v1/orgs/{orgId}/templates/{templateId}/instantiate"): lambda w: {
        "name": "from template"
    },
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/copy"): lambda w: {
        "targetOrgId": w.ids["orgId"],
        "name": "copy",
    },
    ("POST", "/v1/orgs/{orgId}/clipboard/paste"): lambda w: {
        "targetFlowId": w.ids["flowId"],
        "nodes": [n(_unique("p"), "constant", value={"x": 1})],
        "edges": [],
    },
    ("POST", "/v1/orgs/{orgId}/dashboards"): lambda w: {"name": "dash", "shared": True},
    ("PATCH", "/v1/orgs/{orgId}/dashboards/{dashboardId}"): lambda w: {"name": "dash"},
    ("PATCH", "/v1/admin/orgs/{orgId}"): lambda w: {"plan": "pro"},
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/runs"): lambda w: {
        "inputs": {"text": "x", "count": 2},
        "nodes": ["out"],
        "version": 1,
        "force": True,
        "timeoutSeconds": 30,
    },
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/webhooks"): lambda w: {"name": "hook"},
    ("POST", "/v1/orgs/{orgId}/event-webhooks"): lambda w: {
        "url": "http://127.0.0.1:9/hook",
        "events": ["quota.warning"],
    },
    # Unsigned here (401 as it is); signed deliveries: test_signed_webhook_payloads below.
    ("POST", "/v1/hooks/{webhookId}"): lambda w: {"event": "push", "count": 2},
    ("POST", "/v1/orgs/{orgId}/flows/{flowId}/schedules"): lambda w: {
        "cron": "@yearly",
        "timezone": "UTC",
        "inputs": {"text": "x", "count": 2},
        "enabled": False,
    },
    ("PATCH", "/v1/orgs/{orgId}/flows/{flowId}/schedules/{scheduleId}"): lambda w: {
        "cron": "@monthly",
        "timezone": "Europe/Paris",
        "inputs": {"count": 3},
    },
}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    return [
        (method.upper(), path, op)
        for path, ops in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in ops.items()
    ]


def _params(op: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return [p for p in op.get("parameters", []) if p["in"] == where]


def _is_int(param: dict[str, Any]) -> bool:
    schema = param["schema"]
    kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
    return "integer" in kinds


def _takes_json(op: dict[str, Any]) -> bool:
    return "application/json" in op.get("requestBody", {}).get("content", {})


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every string and integer in ``value`` (and every key), with where it is."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key), child
            yield from leaves(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from leaves(child, (*path, i))
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        yield path, value


def replaced(body: Any, where: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return copy


def renamed_key(body: Any, where: tuple[Any, ...], key: str) -> Any:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in where[:-1]:
        target = target[step]
    target[key] = target.pop(where[-1])
    return copy


def mutations(body: Any) -> Iterator[tuple[str, bytes]]:
    """``body`` made invalid in one place each time, as the bytes sent."""
    for where, value in leaves(body):
        label = ".".join(map(str, where))
        if isinstance(value, str):
            yield f"{label}: NUL", json.dumps(replaced(body, where, value + NUL)).encode()
            yield (
                f"{label}: lone surrogate",
                json.dumps(replaced(body, where, SURROGATE + value)).encode(),
            )
        elif isinstance(value, int):
            for big in BIG_INTS:
                yield f"{label}: {big}", json.dumps(replaced(body, where, big)).encode()
        # Keys of free-form objects (node data, inputs, outputs) reach storage as well.
        if isinstance(where[-1], str) and isinstance(body, dict):
            yield (
                f"key {label}: NUL",
                json.dumps(renamed_key(body, where, where[-1] + NUL)).encode(),
            )
    deep: Any = 1
    for _ in range(300):
        deep = [deep]
    if isinstance(body, dict):
        for key in body:
            yield f"{key}: 300 levels", json.dumps({**body, key: deep}).encode()
            break


def test_every_json_route_has_a_body(app: FastAPI) -> None:
    missing = [
        (method, path)
        for method, path, op in operations(app)
        if _takes_json(op) and (method, path) not in BODIES and (method, path) not in NOT_JSON
    ]
    assert missing == [], "add a valid body to BODIES for these routes"
    stale = [key for key in BODIES if key not in {(m, p) for m, p, _ in operations(app)}]
    assert stale == []


async def test_nul_in_paths_and_queries_and_big_numbers_in_parameters(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    world = await make_world(client)
    h = world.admin.headers
    answers: list[tuple[str, str, int]] = []
    for method, template, op in operations(app):
        for param in _params(op, "path"):
            name = param["name"]
            url = world.path(template, **{name: world.ids.get(name, "1") + "%00"})
            response = await client.request(method, url, headers=h)
            assert_error(response, 404, "not_found")
            if _is_int(param):
                for big in BIG_PARAMS:
                    url = world.path(template, **{name: big})
                    response = await client.request(method, url, headers=h)
                    assert_error(response, 422, "validation_error")
        names = [p["name"] for p in _params(op, "query")] or ["x"]
        for name in names:
            response = await client.request(
                method, world.path(template), params={name: "1\x00"}, headers=h
            )
            assert_error(response, 422, "validation_error")
            answers.append((method, template, response.status_code))
        for param in _params(op, "query"):
            if _is_int(param):
                for big in BIG_QUERY_PARAMS:
                    response = await client.request(
                        method, world.path(template), params={param["name"]: big}, headers=h
                    )
                    assert_error(response, 422, "validation_error")
    assert len(answers) > 90
    assert (await client.get("/healthz")).status_code == 200


async def test_bad_values_in_every_body_are_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    world = await make_world(client)
    h = {**world.admin.headers, "content-type": "application/json"}
    refused = 0
    for method, template, _op in operations(app):
        if (method, template) not in BODIES:
            continue
        url = world.path(template)
        body = BODIES[(method, template)](world)
        if (method, template) not in NOT_SENT_AS_IS:
            # The body as it is gets through validation: what follows tests the door,
            # not a missing field.
            response = await client.request(method, url, json=body, headers=h)
            assert response.status_code < 500, (method, url, response.text)
            assert response.status_code != 422, (method, url, response.text)
        for label, content in mutations(body):
            response = await client.request(method, url, content=content, headers=h)
            assert response.status_code == 422, (method, template, label, response.text)
            assert_error(response, 422, "validation_error")
            refused += 1
    assert refused > 300
    assert (await client.get("/healthz")).status_code == 200


async def test_bad_values_in_sync_frames_are_error_frames(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org = await new_org(client)
    args = {"orgId": org.id}
    frames = [
        {"type": "subscribe", "id": "q", "query": "flows.list", "args": {"orgId": org.id + NUL}},
        {"type": "subscribe", "id": "q", "query": "flows.list" + NUL, "args": args},
        {"type": "subscribe", "id": "q", "query": "flows.get", "args": {**args, "flowId": 2**64}},
        {"type": "subscribe", "id": "q", "query": "flows.list", "args": {"orgId": 10**30}},
        {"type": "subscribe", "id": "q", "query": "runs.list", "args": {**args, "flowId": NUL}},
        {
            "type": "subscribe",
            "id": "q",
            "query": "tasks.list",
            "args": {**args, "assigneeId": NUL},
        },
    ]
    texts = [json.dumps(f) for f in frames] + [
        '{"type": "subscribe", "id": "q", "query": "flows.list", "args": {"orgId": "\\ud800"}}',
        '{"type": "subscribe", "id": "q", "query": "flows.list", "args": '
        + "[" * 2000
        + "]" * 2000
        + "}",
    ]
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={org.admin.token}") as ws:
        for i, text in enumerate(texts):
            await ws.send(text.replace('"id": "q"', f'"id": "q{i}"'))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert answer["type"] == "error", (text[:120], answer)
            assert answer["error"]["code"] in ("validation_error", "bad_request", "not_found")
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    assert (await client.get("/healthz")).status_code == 200


async def test_signed_webhook_payloads_are_checked_whatever_their_content_type(
    client: httpx.AsyncClient,
) -> None:
    """Webhook senders set any content type (or none), so the JSON body checks run on the
    payload itself: correctly signed, a NUL character, a lone surrogate or an integer
    beyond 64 bits is a 422 all the same, and starts no run."""
    from tests.engine.test_webhooks import signed

    world = await make_world(client)
    url = f"/v1/hooks/{world.ids['webhookId']}"
    secret = world.ids["webhookSecret"]
    payloads = [
        b'{"text": "a\\u0000b"}',
        b'{"\\u0000": 1}',
        b'{"text": "\\ud800"}',
        b'{"count": 100000000000000000000000}',
        b"[" * 300 + b"]" * 300,
    ]
    for i, payload in enumerate(payloads):
        for content_type in ("application/json", "text/plain", None):
            headers = signed(secret, payload, msg_id=f"msg_{i}_{content_type}")
            if content_type is None:
                del headers["content-type"]
            else:
                headers["content-type"] = content_type
            response = await client.post(url, content=payload, headers=headers)
            assert response.status_code == 422, (payload[:40], content_type, response.text)
            assert_error(response, 422, "validation_error")
    good = b'{"text": "fine", "count": 2}'
    response = await client.post(url, content=good, headers=signed(secret, good, msg_id="ok"))
    assert response.status_code == 202, response.text
