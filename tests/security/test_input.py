"""Issue 12, items 4, 5 and 8: every class of bad input gets the contract's error shape, with
the same status on SQLite and PostgreSQL, and never a 500.

One test per class; each walks every door where that class used to get through.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from tests.flows_helpers import Org, new_org, node
from tests.helpers import PASSWORD

NUL = "\u0000"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()["error"]
    assert set(body) == {"code", "message", "details"}
    if code is not None:
        assert body["code"] == code, body


def raw_json(text: str, headers: dict[str, str]) -> dict[str, Any]:
    """A JSON body sent as written (httpx cannot encode a lone surrogate itself)."""
    return {
        "content": text.encode("utf-8"),
        "headers": {**headers, "content-type": "application/json"},
    }


async def org_with_flow(client: httpx.AsyncClient) -> tuple[Org, dict[str, Any]]:
    org = await new_org(client)
    flow = await org.create_flow("F", [node("a")])
    return org, flow


async def test_nul_characters_are_422_in_bodies_and_queries_404_in_paths(
    client: httpx.AsyncClient, live_url: str
) -> None:
    org, flow = await org_with_flow(client)
    h = org.admin.headers
    flows, fid = org.flows_url, flow["id"]
    bodies: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/auth/signup", {"email": f"a{NUL}@example.com", "password": PASSWORD}),
        ("POST", "/v1/auth/signup", {"email": "b@example.com", "password": PASSWORD + NUL}),
        ("POST", "/v1/auth/signup", {"email": "c@example.com", "password": PASSWORD, "name": NUL}),
        ("POST", "/v1/auth/login", {"email": f"a{NUL}@example.com", "password": PASSWORD}),
        ("POST", "/v1/orgs", {"name": f"Acme{NUL}"}),
        ("PATCH", f"/v1/orgs/{org.id}", {"name": f"Acme{NUL}"}),
        ("PATCH", f"/v1/orgs/{org.id}", {"settings": {"allowedNodeTypes": [f"x{NUL}"]}}),
        ("POST", flows, {"name": f"F{NUL}"}),
        ("POST", flows, {"name": "F", "nodes": [node(f"n{NUL}")]}),
        ("PUT", f"{flows}/{fid}", {"name": NUL, "nodes": [], "edges": [], "baseVersion": 1}),
        ("PATCH", f"{flows}/{fid}", {"ops": [{"op": "rename", "name": NUL}]}),
        ("POST", f"{flows}/{fid}/outputs", {"nodeId": NUL, "output": 1, "computeTime": 1}),
        ("POST", f"{flows}/{fid}/outputs", {"nodeId": "a", "output": {NUL: 1}, "computeTime": 1}),
        ("POST", f"/v1/orgs/{org.id}/invitations", {"email": f"i{NUL}@x.com", "role": "viewer"}),
        ("POST", f"/v1/orgs/{org.id}/api-keys", {"name": f"k{NUL}", "role": "viewer"}),
        ("POST", "/v1/invitations/accept", {"token": f"mb_inv_{NUL}"}),
    ]
    for method, url, body in bodies:
        response = await client.request(method, url, json=body, headers=h)
        assert_error(response, 422, "validation_error")
    for query in (
        f"/v1/orgs/{org.id}/audit?action=%00",
        f"/v1/orgs/{org.id}/audit?actor=x%00",
        f"/v1/orgs/{org.id}/audit?resource=%00",
        f"/v1/orgs/{org.id}/audit?cursor=%00",
        f"{flows}/{fid}/outputs?nodeId=a%00",
        f"{flows}?cursor=%00",
    ):
        assert_error(await client.get(query, headers=h), 422, "validation_error")
    for path in (
        f"/v1/orgs/{org.id}%00",
        f"/v1/orgs/{org.id}%00/flows",
        f"{flows}/{fid}%00",
        f"{flows}/{fid}%00/versions",
        f"/v1/orgs/{org.id}/members/usr_x%00",
    ):
        assert_error(await client.get(path, headers=h), 404, "not_found")
    # A live-query socket answers an error frame and stays open.
    async with websockets.connect(f"ws://{live_url}/v1/sync?token={org.admin.token}") as ws:
        frame = {"type": "subscribe", "id": "q", "query": "flows.list", "args": {"orgId": NUL}}
        await ws.send(json.dumps(frame))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert answer["type"] == "error" and answer["error"]["code"] == "validation_error"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"type": "pong"}
    assert (await client.get("/healthz")).status_code == 200


async def test_lone_surrogates_are_422(client: httpx.AsyncClient) -> None:
    org, flow = await org_with_flow(client)
    h = org.admin.headers
    flows, fid = org.flows_url, flow["id"]
    for method, url, text in [
        ("PATCH", f"/v1/orgs/{org.id}", '{"settings": {"allowedNodeTypes": ["\\ud800"]}}'),
        ("POST", "/v1/orgs", '{"name": "\\udc00"}'),
        ("POST", "/v1/auth/signup", f'{{"email": "s\\ud800@x.com", "password": "{PASSWORD}"}}'),
        ("POST", flows, '{"name": "\\ud83d"}'),
        (
            "POST",
            flows,
            '{"name": "ok", "nodes": [{"id": "a", "type": "t", '
            '"position": {"x": 0, "y": 0}, "data": {"\\udfff": 1}}]}',
        ),
        ("POST", f"{flows}/{fid}/outputs", '{"nodeId": "\\ud800", "output": 1, "computeTime": 1}'),
        ("PATCH", f"{flows}/{fid}", '{"ops": [{"op": "rename", "name": "x\\ud800"}]}'),
    ]:
        response = await client.request(method, url, **raw_json(text, h))
        assert_error(response, 422, "validation_error")
    # A surrogate pair is a character like any other.
    response = await client.request(
        "POST", flows, **raw_json('{"name": "smile \\ud83d\\ude00"}', h)
    )
    assert response.status_code == 201 and response.json()["name"] == "smile \U0001f600"
    # Invalid UTF-8 is not JSON: 400.
    response = await client.post(
        flows, content=b'{"name": "\xff"}', headers={**h, "content-type": "application/json"}
    )
    assert_error(response, 400, "bad_request")


async def test_numbers_out_of_range_are_422(client: httpx.AsyncClient) -> None:
    org, flow = await org_with_flow(client)
    h = org.admin.headers
    base = f"{org.flows_url}/{flow['id']}"
    for big in ("9223372036854775808", "2147483648", "99999999999999999999999"):
        for url in (f"{base}/versions/{big}", f"{base}/versions/1/diff/{big}"):
            assert_error(await client.get(url, headers=h), 422, "validation_error")
        assert_error(
            await client.post(f"{base}/versions/{big}/restore", headers=h), 422, "validation_error"
        )
    for big in ("9223372036854775808", "99999999999999999999999"):
        assert_error(
            await client.get(f"/v1/orgs/{org.id}/audit?from={big}", headers=h),
            422,
            "validation_error",
        )
    for settings in ({"maxNodes": 10**30}, {"storageQuota": 2**64}, {"maxFlows": 2**31}):
        response = await client.patch(f"/v1/orgs/{org.id}", json={"settings": settings}, headers=h)
        assert_error(response, 422, "validation_error")
    for version in (2**63, 2**64, 10**30):
        response = await client.put(
            base, json={"nodes": [], "edges": [], "baseVersion": version}, headers=h
        )
        assert response.status_code in (409, 422), response.text
        assert_error(response, response.status_code)
    response = await client.post(
        f"{base}/outputs", json={"nodeId": "a", "output": 2**64, "computeTime": 10**30}, headers=h
    )
    assert response.status_code in (201, 422), response.text
    assert (await client.get("/healthz")).status_code == 200


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def nested_text(depth: int) -> str:
    return "[" * (depth - 1) + "1" + "]" * (depth - 1)


def hidden_nesting(depth: int) -> str:
    """Nesting whose brackets are balanced by brackets inside strings."""
    return '["]",' * (depth - 1) + "1" + "]" * (depth - 1)


async def test_deep_nesting_is_422(client: httpx.AsyncClient) -> None:
    org, flow = await org_with_flow(client)
    h = org.admin.headers
    base = f"{org.flows_url}/{flow['id']}"
    for depth in (255, 300, 1023, 1500, 5000):
        response = await client.post(
            f"{base}/outputs",
            **raw_json(f'{{"nodeId": "a", "computeTime": 1, "output": {nested_text(depth)}}}', h),
        )
        assert_error(response, 422, "validation_error")
        response = await client.post(
            org.flows_url,
            **raw_json(
                '{"name": "d", "nodes": [{"id": "a", "type": "t", "position": {"x": 0, "y": 0},'
                f' "data": {{"deep": {nested_text(depth)}}}}}]}}',
                h,
            ),
        )
        assert_error(response, 422, "validation_error")
        response = await client.patch(
            f"/v1/orgs/{org.id}",
            **raw_json(f'{{"settings": {{"allowedNodeTypes": {nested_text(depth)}}}}}', h),
        )
        assert_error(response, 422, "validation_error")
    for depth in (300, 1000):
        response = await client.post(
            f"{base}/outputs",
            **raw_json(
                f'{{"nodeId": "a", "computeTime": 1, "output": {hidden_nesting(depth)}}}', h
            ),
        )
        assert_error(response, 422, "validation_error")
    ok = await client.post(
        f"{base}/outputs", json={"nodeId": "a", "output": nested(200), "computeTime": 1}, headers=h
    )
    assert ok.status_code == 201, ok.text
