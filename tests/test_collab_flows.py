"""One flow, two doors: the collab socket on real sessions, roles, quotas and flows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pycrdt import Map

from minibase.config import Settings
from tests.collab.yclient import YClient
from tests.flows_helpers import Org, edge, new_org, node


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Collaborative edits reach the REST flow after 50 ms, rooms unload after 50 ms."""
    return settings.model_copy(
        update={"collab_version_seconds": 0.05, "collab_unload_seconds": 0.05}
    )


@pytest.fixture
def api(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


@pytest.fixture
def ws_host(live_url: str) -> str:
    return live_url


@pytest.fixture
def fast_app(app: FastAPI) -> FastAPI:
    return app


def collab_url(host: str, org: str, flow: str, token: str) -> str:
    return f"ws://{host}/v1/collab/{org}/{flow}?token={token}"


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until ``check()`` holds (the REST view follows the debounced collab edits)."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in time: {check.__name__}")
        await asyncio.sleep(0.02)


async def rest_flow(api: httpx.AsyncClient, org: Org, flow_id: str) -> dict[str, Any]:
    response = await api.get(f"{org.flows_url}/{flow_id}", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


async def test_rest_and_yjs_edit_one_flow(api: httpx.AsyncClient, ws_host: str) -> None:
    org = await new_org(api)
    flow = await org.create_flow("F", [node("a"), node("b", 10, 10)], [edge("a", "b")])
    url = collab_url(ws_host, org.id, flow["id"], org.admin.token)
    async with YClient(url) as client:
        assert set(client.nodes.keys()) == {"a", "b"}
        assert isinstance(client.nodes["a"], Map)

        # REST -> editors at once.
        r = await api.patch(
            f"{org.flows_url}/{flow['id']}",
            headers=org.admin.headers,
            json={"ops": [{"op": "addNode", "node": node("c", 5, 5)}]},
        )
        assert r.status_code == 200
        await client.wait_for(lambda: "c" in client.nodes)

        # Yjs -> REST, versions and usage.
        client.nodes["a"]["position"] = {"x": 42, "y": 1}
        client.nodes["d"] = Map(
            {
                "id": "d",
                "type": "default",
                "position": {"x": 1, "y": 2},
                "data": Map({"label": "D"}),
            }
        )

        async def materialized() -> bool:
            nodes = by_id((await rest_flow(api, org, flow["id"]))["nodes"])
            return "d" in nodes and nodes["a"]["position"] == {"x": 42, "y": 1}

        await eventually(materialized)
    current = await rest_flow(api, org, flow["id"])
    assert by_id(current["nodes"])["d"]["data"] == {"label": "D"}
    assert by_id(current["nodes"])["c"]["position"] == {"x": 5, "y": 5}
    versions = (
        await api.get(f"{org.flows_url}/{flow['id']}/versions", headers=org.admin.headers)
    ).json()["items"]
    assert [v["version"] for v in versions] == list(range(current["version"], 0, -1))
    assert versions[0]["createdBy"] == org.admin.id
    usage = (await api.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
    assert usage["nodes"]["used"] == 4


async def test_rest_write_never_reverts_live_edits(api: httpx.AsyncClient, ws_host: str) -> None:
    org = await new_org(api)
    flow = await org.create_flow("F", [node("a"), node("b")])
    url = collab_url(ws_host, org.id, flow["id"], org.admin.token)
    async with YClient(url) as client:
        # A live move not yet materialized, and a REST save from a stale base version.
        client.nodes["a"]["position"] = {"x": 7, "y": 7}
        r = await api.put(
            f"{org.flows_url}/{flow['id']}",
            headers=org.admin.headers,
            json={
                "baseVersion": 1,
                "name": "Renamed",
                "nodes": [node("a"), node("b"), node("z")],
                "edges": [],
            },
        )
        assert r.status_code == 200, r.text
        await client.wait_for(lambda: "z" in client.nodes)
        assert client.nodes["a"]["position"] == {"x": 7, "y": 7}

        async def both() -> bool:
            current = await rest_flow(api, org, flow["id"])
            nodes = by_id(current["nodes"])
            return (
                current["name"] == "Renamed"
                and "z" in nodes
                and nodes["a"]["position"] == {"x": 7, "y": 7}
            )

        await eventually(both)
        assert client.flow.materialize()["name"] == "Renamed"


async def test_changes_made_while_no_room_is_live_are_seen(
    api: httpx.AsyncClient, ws_host: str, fast_app: FastAPI
) -> None:
    org = await new_org(api)
    flow = await org.create_flow("F", [node("a")])
    url = collab_url(ws_host, org.id, flow["id"], org.admin.token)
    async with YClient(url) as client:
        client.nodes["b"] = Map({"id": "b", "type": "default", "position": {"x": 0, "y": 0}})
        await eventually(lambda: _has(api, org, flow["id"], "b"))
    manager = fast_app.state.ctx.collab
    await eventually(_unloaded(manager, org.id, flow["id"]))
    await api.patch(
        f"{org.flows_url}/{flow['id']}",
        headers=org.admin.headers,
        json={"ops": [{"op": "removeNode", "id": "a"}, {"op": "addNode", "node": node("c")}]},
    )
    async with YClient(url) as again:
        assert set(again.nodes.keys()) == {"b", "c"}


def _unloaded(manager: Any, org: str, flow: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return manager.loaded(org, flow) is None

    return check


async def _has(api: httpx.AsyncClient, org: Org, flow_id: str, node_id: str) -> bool:
    return node_id in by_id((await rest_flow(api, org, flow_id))["nodes"])


async def test_refusals_and_viewers(
    api: httpx.AsyncClient, ws_host: str, fast_app: FastAPI
) -> None:
    org = await new_org(api)
    other = await new_org(api)
    flow = await org.create_flow("F", [node("a")])
    theirs = await other.create_flow("Theirs")

    async def close_code(url: str) -> int | None:
        client = YClient(url)
        await client.connect(wait_sync=False)
        await client.wait_for(lambda: client.close_code is not None)
        await client.close()
        return client.close_code

    assert await close_code(collab_url(ws_host, org.id, flow["id"], "mb_sess_bad")) == 4401
    assert await close_code(collab_url(ws_host, other.id, theirs["id"], org.admin.token)) == 4404
    assert await close_code(collab_url(ws_host, org.id, "flow_random", org.admin.token)) == 4404

    viewer = await org.member("viewer")
    async with YClient(collab_url(ws_host, org.id, flow["id"], viewer.token)) as seat:
        seat.nodes["x"] = Map({"id": "x", "type": "default", "position": {"x": 0, "y": 0}})
        await seat.wait_for(lambda: seat.denied == ["read-only"])
    current = await rest_flow(api, org, flow["id"])
    assert [n["id"] for n in current["nodes"]] == ["a"]


async def test_quota_violations_are_undone_for_everyone(
    api: httpx.AsyncClient, ws_host: str
) -> None:
    org = await new_org(api)
    await org.patch_settings(maxNodes=3, allowedNodeTypes=["default"])
    flow = await org.create_flow("F", [node("a"), node("b")])
    url = collab_url(ws_host, org.id, flow["id"], org.admin.token)
    async with YClient(url) as author, YClient(url) as watcher:
        author.nodes["shell"] = Map({"id": "shell", "type": "shell", "position": {"x": 0, "y": 0}})
        await author.wait_for(lambda: "shell" not in author.nodes and author.notifications)
        author.nodes["c"] = Map({"id": "c", "type": "default", "position": {"x": 0, "y": 0}})
        author.nodes["d"] = Map({"id": "d", "type": "default", "position": {"x": 0, "y": 0}})
        await watcher.wait_for(lambda: len(watcher.nodes) == 3 and "shell" not in watcher.nodes)
        await author.wait_for(lambda: len(author.nodes) == 3)
        author.edges["dangling"] = {"id": "dangling", "source": "a", "target": "ghost"}
        await watcher.wait_for(
            lambda: "dangling" not in watcher.edges and len(author.notifications) >= 3
        )
    await eventually(lambda: _count(api, org, flow["id"], 3))
    usage = (await api.get(f"/v1/orgs/{org.id}/usage", headers=org.admin.headers)).json()
    assert usage["nodes"]["used"] == 3


async def _count(api: httpx.AsyncClient, org: Org, flow_id: str, count: int) -> bool:
    return len((await rest_flow(api, org, flow_id))["nodes"]) == count


async def test_collab_authorization_is_live(api: httpx.AsyncClient, ws_host: str) -> None:
    org = await new_org(api)
    flow = await org.create_flow("F", [node("a")])
    member = await org.member("editor")
    members_url = f"/v1/orgs/{org.id}/members/{member.id}"
    async with YClient(collab_url(ws_host, org.id, flow["id"], member.token)) as seat:
        seat.nodes["b"] = Map({"id": "b", "type": "default", "position": {"x": 0, "y": 0}})
        await eventually(lambda: _has(api, org, flow["id"], "b"))
        # Demoted: the socket stays, its edits are refused from now on.
        r = await api.patch(members_url, headers=org.admin.headers, json={"role": "viewer"})
        assert r.status_code == 200, r.text

        async def refused() -> bool:
            seat.nodes[f"c{len(seat.denied)}"] = Map(
                {"id": "c", "type": "default", "position": {"x": 0, "y": 0}}
            )
            await asyncio.sleep(0.05)
            return seat.denied == ["read-only"]

        await eventually(refused)
        # Removed: the socket is closed as for a flow it cannot see.
        assert (await api.delete(members_url, headers=org.admin.headers)).status_code == 204
        await seat.wait_for(lambda: seat.close_code is not None)
        assert seat.close_code == 4404

    async with YClient(collab_url(ws_host, org.id, flow["id"], org.admin.token)) as admin:
        await api.post("/v1/auth/logout", headers=org.admin.headers)
        await admin.wait_for(lambda: admin.close_code is not None)
        assert admin.close_code == 4401
